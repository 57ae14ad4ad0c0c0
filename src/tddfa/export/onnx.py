"""PyTorch -> ONNX: a torch module with a dynamic batch dimension, and the checkpoint conversions the model registry
caches (:func:`tddfa.runtime.registry.cached_onnx`)."""
from __future__ import annotations

from pathlib import Path

from ..errors import require
from ..geometry.crop import INPUT_SIZE


def export_onnx(model, path: str | Path, input_shape: tuple[int, ...], dynamic_batch: bool = True,
                opset: int = 17, input_name: str = "input", output_names: tuple[str, ...] = ("output",)) -> Path:
    """Export a torch module (eval mode) to ONNX with a dynamic batch dimension."""
    import torch

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    dummy = torch.zeros(*input_shape)
    axes = {input_name: {0: "batch"}, **{o: {0: "batch"} for o in output_names}} if dynamic_batch else None
    with torch.no_grad():
        torch.onnx.export(model, dummy, str(p), input_names=[input_name], output_names=list(output_names),
                          dynamic_axes=axes, opset_version=opset, dynamo=False)
    return p


def reference_regressor_to_onnx(pth: Path, onnx: Path) -> None:
    """3DDFA_V2's ``mb05_120x120.pth`` -> ONNX (input ``(N, 3, 120, 120)``)."""
    require("torch", "loading a .pth checkpoint needs PyTorch: pip install 'tddfa[train]'")
    from ..nets import create_model
    from ..nets.checkpoint import load_checkpoint

    export_onnx(load_checkpoint(create_model("mb05"), pth), onnx, (1, 3, INPUT_SIZE, INPUT_SIZE))


def faceboxes_to_onnx(pth: Path, onnx: Path) -> None:
    """A FaceBoxes ``.pth`` (reference or ours) -> ONNX (needs torch)."""
    require("torch", f"converting {pth.name} to ONNX needs PyTorch: pip install 'tddfa[train]'")
    from ..nets.faceboxes import export_faceboxes_onnx, load_faceboxes

    export_faceboxes_onnx(load_faceboxes(pth), onnx)
