"""Training: data preparation (3DMM fitting, face profiling, cached crops), losses and the trainer.

Submodules are imported on demand (``tddfa.train.fitting``, ``.profiling``, ``.prepare``, ``.data_format``)
so that importing this package stays cheap and torch-free.
"""
