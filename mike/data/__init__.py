"""Datasets: the 11 COCO tri-class tasks, the synthetic COCO default, and their builder."""
