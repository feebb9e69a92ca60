"""Networks: the EfficientNet-block segmenter (teacher) and autoencoder of MIKE Section 4."""
