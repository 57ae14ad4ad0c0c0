"""MobileNet V3 and ResNet-22: registry names, output shapes, training branch, layout of 3DDFA_V2's modules."""
from __future__ import annotations

import pytest

ARCHS = ["mobilenet_v3", "resnet22"]


@pytest.mark.parametrize("arch", ARCHS)
def test_registered_and_shapes(torch_mod, arch):
    from tddfa.nets import create_model, list_models

    assert arch in list_models()
    torch = torch_mod
    model = create_model(arch).eval()
    x = torch.randn(3, 3, 120, 120)
    with torch.no_grad():
        y = model(x)
        params, lms = model.forward_train(x)
    assert y.shape == (3, 62) and params.shape == (3, 62) and lms.shape == (3, 136)
    assert torch.allclose(y, params)  # the inference path is the training path's first output
    assert torch.isfinite(y).all() and torch.isfinite(lms).all()


@pytest.mark.parametrize("arch", ARCHS)
def test_batch_items_independent(torch_mod, arch):
    """Eval mode: each crop's output does not depend on the rest of the batch."""
    from tddfa.nets import create_model

    torch = torch_mod
    torch.manual_seed(0)
    model = create_model(arch).eval()
    x = torch.randn(4, 3, 120, 120)
    with torch.no_grad():
        together = model(x)
        alone = torch.cat([model(x[i:i + 1]) for i in range(4)])
    assert torch.allclose(together, alone, atol=1e-5 * float(together.abs().max()) + 1e-7)


@pytest.mark.parametrize("arch", ARCHS)
def test_gradients_reach_the_stem(torch_mod, arch):
    from tddfa.nets import create_model

    torch = torch_mod
    model = create_model(arch).train()
    params, lms = model.forward_train(torch.randn(2, 3, 120, 120))
    (params.square().mean() + lms.square().mean()).backward()
    stem = model.features[0][0] if arch == "mobilenet_v3" else model.conv1
    assert stem.weight.grad is not None and float(stem.weight.grad.abs().sum()) > 0


def test_resnet22_layout(torch_mod):
    """3DDFA_V2's ResNet-22: 5x5 stem to 32, 3x3 to 64, stages of 3/4/3 basic blocks, 1x1 conv head."""
    from tddfa.nets import create_model

    torch = torch_mod
    m = create_model("resnet22")
    assert tuple(m.conv1.weight.shape) == (32, 3, 5, 5) and tuple(m.conv2.weight.shape) == (64, 32, 3, 3)
    assert [len(m.layer1), len(m.layer2), len(m.layer3)] == [3, 4, 3]
    assert tuple(m.layer3[0].downsample[0].weight.shape) == (512, 256, 1, 1)
    assert tuple(m.conv_param.weight.shape) == (62, 512, 1, 1)
    convs = [mod for name, mod in m.named_modules()
             if isinstance(mod, torch.nn.Conv2d) and "downsample" not in name and "conv_lm" not in name]
    assert len(convs) == 22 + 1  # 22 weighted layers + the 1x1 parameter head
    with torch.no_grad():
        assert tuple(m.features(torch.zeros(1, 3, 120, 120)).shape) == (1, 512, 8, 8)


def test_mobilenet_v3_layout(torch_mod):
    """MobileNet V3-Small as 3DDFA_V2 lays it out: stem + 11 bottlenecks + 1x1 conv + pool + 1x1 conv + h-swish."""
    from tddfa.nets import create_model
    from tddfa.nets.mobilenet_v3 import MobileBottleneck, SEModule

    m = create_model("mobilenet_v3")
    blocks = [b for b in m.features if isinstance(b, MobileBottleneck)]
    assert len(blocks) == 11 and len(m.features) == 1 + 11 + 4
    assert sum(isinstance(b.conv[5], SEModule) for b in blocks) == 9  # all but the 2nd and 3rd blocks
    # keys as in the reference checkpoint layout, e.g. features.1.conv.5.fc.0.weight (SE of the first block)
    keys = set(m.state_dict())
    assert {"features.1.conv.5.fc.0.weight", "features.14.weight", "fc_param.weight", "fc_lm.weight"} <= keys
    assert tuple(m.fc_param.weight.shape) == (62, 1280)
    large = create_model("mobilenet_v3", mode="large")
    assert sum(isinstance(b, MobileBottleneck) for b in large.features) == 15
    with pytest.raises(ValueError):
        create_model("mobilenet_v3", mode="tiny")
