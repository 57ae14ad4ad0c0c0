"""Detector training pieces: box convention, deterministic mosaics, SSD matching and the loss."""
import numpy as np
import pytest

from tddfa.train.detector.data import BOX_MAPPING, FacePool, MosaicGenerator, face_box_from_landmarks, select_300w


def _pool(rng, n=6, size=128):
    imgs = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    base = rng.uniform(40, 60, (n, 1, 2))
    pts = (base + rng.uniform(0, 40, (n, 68, 2))).astype(np.float32)  # in the central half
    return FacePool(imgs, pts)


def test_face_box_mapping():
    pts = np.array([[10.0, 20.0], [30.0, 60.0]])[None].repeat(34, 0).reshape(68, 2)
    x1, y1, x2, y2 = face_box_from_landmarks(pts)
    dcx, dcy, sw, sh = BOX_MAPPING
    assert np.isclose((x1 + x2) / 2, 20 + dcx * 20) and np.isclose((y1 + y2) / 2, 40 + dcy * 40)
    assert np.isclose(x2 - x1, 20 * sw) and np.isclose(y2 - y1, 40 * sh)


def test_mosaics_deterministic_and_boxes_inside(rng):
    gen = MosaicGenerator(_pool(rng), size=160, seed=3)
    for i in range(6):
        img, boxes, ignore = gen(i)
        img2, boxes2, _ = gen(i)
        np.testing.assert_array_equal(img, img2)
        np.testing.assert_array_equal(boxes, boxes2)
        assert img.shape == (160, 160, 3) and img.dtype == np.uint8
        assert boxes.shape[1] == 4 and np.all(boxes >= 0) and np.all(boxes <= 160)
        assert np.all(boxes[:, 2:] > boxes[:, :2]) and ignore.shape[1] == 4
    assert not np.array_equal(gen(0)[0], gen(1)[0])


def test_300w_pool_never_contains_afw(shared_data):
    ann = np.load(shared_data / "300w" / "annotations.npz")
    for splits, excl in [(("train",), ("afw",)), (("train", "test"), ())]:
        sel = select_300w(ann, splits, excl)
        assert len(sel) and not np.isin(ann["subset"][sel], ["afw"]).any()
        assert np.isin(ann["split"][sel], splits).all()
    n_train = int(((ann["split"] == "train") & (ann["subset"] != "afw")).sum())
    assert len(select_300w(ann, ("train",))) == n_train


def test_match_and_loss(torch_mod):
    torch = torch_mod
    from tddfa.detect.priors import prior_boxes
    from tddfa.train.detector.loss import MultiBoxLoss, match, point_form

    pri = torch.from_numpy(prior_boxes(128, 128).copy())
    k = 5  # a box equal to one prior must claim it, with zero offsets
    truth = point_form(pri[k:k + 1])
    loc_t, labels = match(truth, pri)
    assert labels[k] == 1 and torch.allclose(loc_t[k], torch.zeros(4), atol=1e-5)
    assert labels.sum() >= 1 and labels.sum() < len(pri) // 10
    # empty image: all background
    assert match(torch.zeros(0, 4), pri)[1].sum() == 0
    # an ignored face: its priors are neither face nor background
    lab_ig = match(torch.zeros(0, 4), pri, ignore=truth)[1]
    assert lab_ig[k] == -1 and (lab_ig == 1).sum() == 0
    # loss is lower for predictions that agree with the targets
    crit = MultiBoxLoss()
    loc = torch.zeros(1, len(pri), 4)
    good = torch.zeros(1, len(pri), 2)
    good[0, :, 0] = 5.0
    good[0, labels.bool(), :] = torch.tensor([-5.0, 5.0])
    bad = -good
    assert crit(loc, good, [truth], pri)[0] < crit(loc, bad, [truth], pri)[0]


def test_group_photos_put_faces_side_by_side_and_ignore_the_hidden(rng):
    pool = _pool(rng)
    pool.pts[:] = 32 + rng.uniform(0, 64, pool.pts.shape)  # crops twice the face, as the 300W crops
    pool.pts[:, :2] = [[32, 32], [96, 96]]
    gen = MosaicGenerator(pool, size=256, seed=3, p_group=1.0)
    n_keep = n_ign = close = several = 0
    for i in range(12):
        img, boxes, ignore = gen(i)
        np.testing.assert_array_equal(img, gen(i)[0])  # deterministic
        assert boxes.shape[1] == 4 and np.all(boxes >= 0) and np.all(boxes <= 256)
        n_keep, n_ign = n_keep + len(boxes), n_ign + len(ignore)
        if len(boxes) >= 2:  # neighbours: closer than the mosaics' two face widths apart (unless one is hidden)
            c = (boxes[:, :2] + boxes[:, 2:]) / 2
            w = boxes[:, 2] - boxes[:, 0]
            d = np.linalg.norm(c[:, None] - c[None], axis=-1) + np.eye(len(c)) * 1e9
            several += 1
            close += d.min() < 2.0 * w.max()
    assert n_keep >= 12 and n_ign >= 1  # people next to each other, some hidden by the ones in front
    assert close >= 0.75 * several > 0


def test_group_share_zero_keeps_the_older_images(rng):
    a = MosaicGenerator(_pool(np.random.default_rng(1)), size=96, seed=5)
    b = MosaicGenerator(_pool(np.random.default_rng(1)), size=96, seed=5, p_group=0.0)
    for i in range(5):
        for x, y in zip(a(i), b(i)):
            np.testing.assert_array_equal(x, y)


def test_context_and_occluder_shares_zero_keep_the_older_images():
    a = MosaicGenerator(_pool(np.random.default_rng(1)), size=96, seed=5, p_group=0.3)
    b = MosaicGenerator(_pool(np.random.default_rng(1)), size=96, seed=5, p_group=0.3, p_context=0.0, p_occlude=0.0)
    for i in range(5):
        for x, y in zip(a(i), b(i)):
            np.testing.assert_array_equal(x, y)


def test_context_window_keeps_the_face_and_cuts_the_crop_edge_at_random(rng):
    pool = _pool(rng)
    gen = MosaicGenerator(pool, size=128, seed=0, p_context=1.0)
    widths = []
    for i in range(40):
        r = np.random.default_rng(i)
        m = gen._context_window(r, i % len(pool), bool(i % 2), 1.0, feather=False)
        b = gen.boxes[i % len(pool)].copy()
        if i % 2:
            b[[0, 2]] = 128 - 1 - b[[2, 0]]
        x0, y0, x1, y1 = np.clip(np.round(b).astype(int), 0, 128)
        assert m.shape == (128, 128) and set(np.unique(m)) <= {0.0, 1.0}
        assert m[y0 + 1:y1 - 1, x0 + 1:x1 - 1].min() == 1  # the face box is always pasted
        cols = np.flatnonzero(m.max(0))
        widths.append(cols[-1] - cols[0] + 1)
    assert np.std(widths) > 5 and min(widths) < 120  # the paste's edge lies at varying distances from the face


def test_occluder_stays_above_most_of_the_face(rng):
    pool = _pool(rng)
    gen = MosaicGenerator(pool, size=160, seed=0, p_occlude=1.0)
    box = np.array([50.0, 60.0, 110.0, 130.0])
    for i in range(20):
        canvas = np.zeros((160, 160, 3), np.uint8)
        gen._occlude(canvas, np.random.default_rng(i), box)
        rows = np.flatnonzero(canvas.max((1, 2)) > 0)
        if len(rows):  # a patch can be all black; what is drawn ends at most 15 % into the box
            assert rows.max() <= 60 + 0.15 * 70 + 1


def test_lite_stem_starts_from_a_trained_network_and_learns_only_its_stem_first(torch_mod, shared_data, tmp_path):
    torch = torch_mod
    from tddfa.nets.faceboxes import FaceBoxesNet
    from tddfa.train.detector.trainer import init_model, load_config, stem_error, train

    t = torch.zeros(2, 128, 3, 3).uniform_()
    assert float(stem_error(t, t)) == 0 and abs(float(stem_error(torch.zeros_like(t), t)) - 1) < 1e-6
    teacher = FaceBoxesNet().init_weights()
    torch.save(teacher.state_dict(), tmp_path / "teacher.pth")
    cfg = load_config(None)
    cfg.update(data_300w=str(shared_data / "300w"), out=str(tmp_path / "run"), stem="lite", threads=1,
               init_from=str(tmp_path / "teacher.pth"), distill_from=str(tmp_path / "teacher.pth"),
               distill_stem_steps=2, total_steps=3, sizes=[96], batch_size=2, val_images=2, val_size=96,
               val_every=100, log_every=1, lr=1e-3, warmup_steps=1)
    torch.manual_seed(cfg["seed"])  # as train() does before building the network: the same fresh stem
    start = init_model(cfg)
    assert start.stem == "lite" and torch.equal(start.inception1.branch1x1.conv.weight,
                                                teacher.inception1.branch1x1.conv.weight)
    train(cfg, max_steps=2)  # the stem-only phase
    sd = torch.load(tmp_path / "run" / "last.pth", weights_only=False)["model"]
    assert torch.equal(sd["inception1.branch1x1.conv.weight"], teacher.inception1.branch1x1.conv.weight)
    assert torch.equal(sd["conf.0.weight"], teacher.conf[0].weight)
    assert not torch.equal(sd["conv1.conv.weight"], start.conv1.conv.weight)  # the stem has learned
    train(cfg, resume=True)  # then the whole network
    sd = torch.load(tmp_path / "run" / "last.pth", weights_only=False)["model"]
    assert not torch.equal(sd["conf.0.weight"], teacher.conf[0].weight)
    log = (tmp_path / "run" / "train.log").read_text()
    assert "stem error" in log and "step 3/3" in log


def test_small_faces_get_positives_only_from_the_stride_16_source(torch_mod):
    torch = torch_mod
    from tddfa.detect.priors import num_priors, prior_boxes
    from tddfa.train.detector.loss import match

    n = num_priors(128, 128)
    fine = torch.from_numpy(prior_boxes(128, 128, fine=True).copy())
    truth = torch.tensor([[51.0, 50.0, 61.0, 62.0]]) / 128  # a 10 x 12 px face: under the 32 px anchors' reach
    labels = match(truth, fine)[1]
    assert labels[:n].sum() == 0 and labels[n:].sum() >= 1
    assert match(truth, fine[:n])[1].sum() == 0  # the plain layout leaves it without a positive


def test_fine_network_starts_from_a_plain_one_with_its_new_layers_fresh(torch_mod, tmp_path):
    torch = torch_mod
    from tddfa.nets.faceboxes import FaceBoxesNet
    from tddfa.train.detector.trainer import init_model, load_config

    plain = FaceBoxesNet().init_weights()
    torch.save(plain.state_dict(), tmp_path / "plain.pth")
    cfg = load_config(None)
    cfg.update(fine=True, init_from=str(tmp_path / "plain.pth"))
    net = init_model(cfg)
    assert net.fine and torch.equal(net.conf[0].weight, plain.conf[0].weight)
    assert torch.allclose(net.fine_conf.bias.view(-1, 2)[:, 1], torch.tensor(-4.6))  # background prior
    cfg.update(init_from=None, distill_from=str(tmp_path / "plain.pth"))
    with pytest.raises(ValueError, match="fine"):
        from tddfa.train.detector.trainer import train
        train({**cfg, "out": str(tmp_path / "run"), "data_300w": "/nonexistent"}, max_steps=1)
