"""Making models (maintainer side; needs torch, and onnx for quantization): the one home of ONNX export and INT8
quantization. Inference never imports it.

* :mod:`.onnx`: a torch module -> ONNX; the ``.pth`` conversions the model registry caches;
* :mod:`.network`: one network from weights or a 3DDFA_V2 directory, with the ``.json`` the registry reads
  (``tddfa export``);
* :mod:`.checkpoint`: training checkpoints -> shipped models (regressor, ensemble, detector);
* :mod:`.quantize`: INT8 static quantization (``tddfa quantize``, ``tddfa export --int8``).

Result files (overlays, meshes, JSON) are written by :mod:`tddfa.io.writers`, not here.
"""
