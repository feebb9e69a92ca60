"""Training loops: teacher pretraining, MIKE transfer, the pixel-wise baseline, downstream evaluation."""
