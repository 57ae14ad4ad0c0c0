"""Detector training: synthetic multi-face mosaics from annotated face crops, SSD matching with hard
negative mining, and a resumable single-core trainer (``tddfa train-detector``)."""
