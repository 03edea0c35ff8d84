"""Datasets: raw loaders (torchvision's files, scikit-learn's) and the prepared, checksummed splits every job loads once."""
