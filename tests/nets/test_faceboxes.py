import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install 'tddfa[train]')")

from tddfa.detect.priors import num_priors  # noqa: E402
from tddfa.nets.faceboxes import FaceBoxesNet, export_faceboxes_onnx, load_faceboxes  # noqa: E402


@pytest.mark.parametrize("stem,fine", [("rdcl", False), ("lite", False), ("rdcl", True)])
@pytest.mark.parametrize("hw", [(64, 64), (100, 37), (129, 257), (607, 1080)])
def test_output_count_matches_priors(hw, stem, fine):
    net = FaceBoxesNet(stem=stem, fine=fine).eval()
    with torch.no_grad():
        loc, logits = net(torch.zeros(2, 3, *hw))
    n = num_priors(*hw, fine=fine)
    assert loc.shape == (2, n, 4) and logits.shape == (2, n, 2)


def test_fine_network_keeps_the_original_outputs_first():
    """The stride-16 source is appended: a trained plain network's outputs come out unchanged in front."""
    torch.manual_seed(0)
    plain = FaceBoxesNet().init_weights().eval()
    fine = FaceBoxesNet(fine=True).init_weights().eval()
    missing, unexpected = fine.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("fine_") for k in missing)
    x = torch.randn(1, 3, 130, 211) * 60
    with torch.no_grad():
        a, b = plain(x), fine(x)
    n = a[0].shape[1]
    assert torch.allclose(a[0], b[0][:, :n], atol=1e-5) and torch.allclose(a[1], b[1][:, :n], atol=1e-5)
    assert b[0].shape[1] == num_priors(130, 211, fine=True) > n


def test_fine_checkpoint_loads_and_agrees_with_onnx(tmp_path):
    net = FaceBoxesNet(fine=True).init_weights().eval()
    torch.save(net.state_dict(), tmp_path / "s16.pth")
    back = load_faceboxes(tmp_path / "s16.pth")
    assert back.fine and back.stem == "rdcl"
    _assert_onnx_export_agrees(back, tmp_path / "s16.onnx", [(131, 202), (64, 96)])  # odd sizes: the upsample is cut


def test_reference_weights_load_strictly(reference_dir):
    net = load_faceboxes(reference_dir / "FaceBoxesProd.pth", strict=True)
    n = sum(v.numel() for v in net.state_dict().values())
    assert n == 1010317  # every tensor of FaceBoxesProd.pth, nothing more


def _assert_onnx_export_agrees(net, path, sizes):
    """Export ``net`` to ``path`` and compare ONNX Runtime with torch on random inputs of each ``(h, w)``."""
    from tddfa.runtime.onnx import make_session

    sess = make_session(export_faceboxes_onnx(net, path), 1)
    rng = np.random.default_rng(0)
    for hw in sizes:
        x = rng.uniform(-120, 130, (1, 3, *hw)).astype(np.float32)
        with torch.no_grad():
            loc, logits = net(torch.from_numpy(x))
        o_loc, o_score = sess.run(None, {"input": x})
        # fresh weights give offsets in the 100s: float32 rounding scales with them
        np.testing.assert_allclose(o_loc, loc.numpy(), atol=max(1e-4, 1e-5 * float(loc.abs().max())))
        np.testing.assert_allclose(o_score, torch.softmax(logits, -1)[..., 1].numpy(), atol=1e-4)


def test_torch_and_onnx_agree(reference_dir, tmp_path):
    net = load_faceboxes(reference_dir / "FaceBoxesProd.pth")
    _assert_onnx_export_agrees(net, tmp_path / "fb.onnx", [(96, 160), (211, 97)])  # dynamic height / width


def test_a_training_checkpoint_loads_its_ema_weights(tmp_path):
    """``last.pth`` holds the raw and the EMA weights; the trainer validates and exports the EMA, so must every loader."""
    raw, ema = FaceBoxesNet(), FaceBoxesNet()
    torch.save({"model": raw.state_dict(), "ema": ema.state_dict(), "step": 3}, tmp_path / "last.pth")
    got = load_faceboxes(tmp_path / "last.pth").state_dict()
    k = next(k for k in got if k.endswith("weight"))
    assert torch.equal(got[k], ema.state_dict()[k]) and not torch.equal(got[k], raw.state_dict()[k])
    torch.save(raw.state_dict(), tmp_path / "plain.pth")  # a plain state dict as it is
    assert torch.equal(load_faceboxes(tmp_path / "plain.pth").state_dict()[k], raw.state_dict()[k])


def test_lite_stem_keeps_the_shapes_after_the_stem_and_costs_less():
    rdcl, lite = FaceBoxesNet(), FaceBoxesNet(stem="lite")
    x = torch.zeros(1, 3, 211, 97)
    with torch.no_grad():
        assert rdcl.stem_features(x).shape == lite.stem_features(x).shape == (1, 128, 7, 4)
    a, b = rdcl.state_dict(), lite.state_dict()
    after = [k for k in a if not k.startswith(("conv1.", "conv2."))]
    assert after and all(a[k].shape == b[k].shape for k in after)  # a trained rdcl network seeds the rest

    def stem_macs(net, hw=(608, 1080)):  # multiply-adds of the stem's convolutions at one input size
        total, h, w = 0, *hw
        for m in (net.conv1, net.conv2):
            for c in [mod for mod in m.modules() if isinstance(mod, torch.nn.Conv2d)]:
                h, w = -(-h // c.stride[0]), -(-w // c.stride[1])
                total += h * w * c.out_channels * c.in_channels // c.groups * c.kernel_size[0] * c.kernel_size[1]
            h, w = -(-h // 2), -(-w // 2)  # the max pool after each stage
        return total
    assert stem_macs(lite) < 0.35 * stem_macs(rdcl)


def test_lite_checkpoint_loads_exports_and_agrees_with_onnx(tmp_path):
    net = FaceBoxesNet(stem="lite").init_weights().eval()
    torch.save(net.state_dict(), tmp_path / "lite.pth")
    back = load_faceboxes(tmp_path / "lite.pth")
    assert back.stem == "lite"
    _assert_onnx_export_agrees(back, tmp_path / "lite.onnx", [(131, 202)])  # sizes that need the padding


def test_detector_export_names_the_file_by_architecture(tmp_path):
    from tddfa.export.checkpoint import export_detector_checkpoint
    from tddfa.runtime.registry import load_detector

    for stem, fine, want in [("rdcl", False, "faceboxes"), ("lite", False, "faceboxes_lite"),
                             ("rdcl", True, "faceboxes_s16")]:
        net = FaceBoxesNet(stem=stem, fine=fine).init_weights()
        torch.save({"model": net.state_dict(), "ema": net.state_dict(), "step": 7}, tmp_path / f"{want}.pth")
        meta = export_detector_checkpoint(tmp_path / f"{want}.pth", tmp_path / want)
        assert meta["file"] == want and meta["arch"] == want and meta["trained_steps"] == 7
        det = load_detector(tmp_path / want / f"{want}.onnx")
        assert det(np.zeros((90, 160, 3), np.uint8)).shape[1] == 5  # runs; random weights, any number of boxes


@pytest.mark.parametrize("hw", [(37, 61), (64, 64), (151, 270)])
def test_pooled_crelu_equals_pooling_the_crelu(hw):
    """``CRelu.pooled`` pools before the concat and ReLU: the same numbers as pooling the full CReLU output."""
    torch.manual_seed(1)
    net = FaceBoxesNet().init_weights().eval()
    for m in net.modules():  # non-trivial BN so that both signs of x survive
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1), m.running_var.uniform_(0.5, 2), m.bias.data.uniform_(-1, 1)
    x = torch.randn(2, 3, *hw) * 50
    with torch.no_grad():
        want = torch.nn.functional.max_pool2d(net.conv1(x), 3, 2, 1)
        got = net.conv1.pooled(x)
        assert torch.equal(got, want) and (got > 0).any()
        y = torch.randn(1, 48, *hw)
        assert torch.equal(net.conv2.pooled(y), torch.nn.functional.max_pool2d(net.conv2(y), 3, 2, 1))


def test_plain_network_exports_with_merged_heads(tmp_path):
    """The export runs each source's two heads as one convolution; ONNX still matches the torch network."""
    import onnx

    net = FaceBoxesNet().init_weights().eval()
    _assert_onnx_export_agrees(net, tmp_path / "fb.onnx", [(129, 257), (64, 64)])
    convs = [n for n in onnx.load(str(tmp_path / "fb.onnx")).graph.node if n.op_type == "Conv"]
    n_convs = sum(isinstance(m, torch.nn.Conv2d) for m in net.modules())
    assert len(convs) == n_convs - 3  # three sources, one conv fewer each


def test_folded_pools_give_the_same_outputs_and_no_average_pooling(tmp_path):
    """``fold_pools``: each Inception's 3x3 mean + 1x1 conv becomes one 3x3 conv (the graph INT8 is made from)."""
    import onnx

    from tddfa.nets.faceboxes import fold_pools

    torch.manual_seed(2)
    net = FaceBoxesNet().init_weights().eval()
    folded = fold_pools(net)
    x = torch.randn(1, 3, 131, 203) * 60
    with torch.no_grad():
        (a_loc, a_conf), (b_loc, b_conf) = net(x), folded(x)
    assert torch.allclose(a_loc, b_loc, rtol=1e-4, atol=1e-3) and torch.allclose(a_conf, b_conf, rtol=1e-4, atol=1e-3)
    assert not any(m.pool_folded for m in net.modules() if hasattr(m, "pool_folded"))  # the original is untouched
    path = export_faceboxes_onnx(net, tmp_path / "fold.onnx", for_int8=True)
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert "AveragePool" not in ops and "AveragePool" in [n.op_type for n in onnx.load(
        str(export_faceboxes_onnx(net, tmp_path / "plain.onnx"))).graph.node]
