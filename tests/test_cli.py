"""``tddfa --help`` lists the users' commands before the maintainers'; ``tddfa train MODE`` and ``train-MODE`` agree."""
from tddfa.cli import USER_COMMANDS, build_parser


def test_help_lists_user_commands_first_and_groups_the_maintainers():
    text = build_parser().format_help()
    users, maintainers = text.split("maintainer commands")
    for name in ("image", "video", "webcam", "serve", "models"):
        assert f"\n  {name} " in users
    for name in ("train", "prepare-data", "export", "quantize", "eval", "bench"):
        assert f"\n  {name} " in maintainers and name not in USER_COMMANDS
    assert "train-detector" not in text  # the old spellings work but are not listed


def test_train_modes_and_their_old_spellings_parse_alike():
    p = build_parser()
    for mode, old in (("detector", "train-detector"), ("pack", "train-pack"), ("ensemble", "train-ensemble")):
        extra = ["a.pth", "--out", "x.pth"] if mode == "ensemble" else []
        new_args, old_args = p.parse_args(["train", mode, *extra]), p.parse_args([old, *extra])
        assert new_args.func is old_args.func
        assert all(getattr(new_args, k) == v for k, v in vars(old_args).items() if k != "command")
    plain, regressor = p.parse_args(["train", "--smoke"]), p.parse_args(["train", "regressor", "--smoke"])
    assert plain.func is regressor.func and plain.smoke and regressor.smoke
