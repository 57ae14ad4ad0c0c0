"""MobileNet V1: the reference mb05 checkpoint loads strictly; shapes and the training branch."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("arch,width", [("mb1", 1024), ("mb05", 512)])
def test_shapes_and_forward_train(torch_mod, arch, width):
    from tddfa.nets import create_model

    torch = torch_mod
    m = create_model(arch).eval()
    assert m.fc_param.in_features == width and m.fc_lm.out_features == 136
    x = torch.randn(2, 3, 120, 120)
    with torch.no_grad():
        y = m(x)
        p, lm = m.forward_train(x)
        assert tuple(m.features(x).shape) == (2, width)
    assert y.shape == (2, 62) and lm.shape == (2, 136)
    assert torch.allclose(y, p)


def test_reference_checkpoint_loads_strictly(torch_mod, reference_dir):
    from tddfa.nets import create_model
    from tddfa.nets.checkpoint import load_checkpoint, load_state_dict

    torch = torch_mod
    sd = load_state_dict(reference_dir / "mb05_120x120.pth")
    model = create_model("mb05")
    assert set(sd) == set(model.state_dict())  # every key used, none missing
    load_checkpoint(model, reference_dir / "mb05_120x120.pth", strict=True)
    assert not model.training
    assert torch.equal(model.conv1.weight, sd["conv1.weight"])
    # a trained network's output on a blank (mid-grey) crop is finite and not the untrained near-zero output
    with torch.no_grad():
        y = model(torch.zeros(1, 3, 120, 120))
    assert torch.isfinite(y).all() and float(y.abs().max()) > 0.1


def test_wrong_checkpoint_is_rejected(torch_mod, reference_dir):
    from tddfa.nets import create_model
    from tddfa.nets.checkpoint import load_checkpoint

    with pytest.raises(RuntimeError):
        load_checkpoint(create_model("mb1"), reference_dir / "mb05_120x120.pth")
