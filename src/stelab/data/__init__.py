"""Data track: MNIST IDX files, their download, synthetic sets, ImageFolder, and the batch order."""
