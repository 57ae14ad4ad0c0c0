#!/usr/bin/env bash
# Make the working tree small enough to travel to a lent GPU machine (64 MiB with the carried data), then restore it.
#
#   bash scripts/gpu_tree.sh slim [KEEP...]   # empty every tracked model/gallery file except KEEP (e.g. the init_from .pth)
#   bash scripts/gpu_tree.sh size [CARRY...]  # MB that would travel: tracked + untracked-not-ignored + CARRY folders
#   bash scripts/gpu_tree.sh restore          # git checkout the emptied files
#
# The shipped models alone are ~75 MB, so a call that carries training packs (cache/gpu, ~47 MB) needs `slim`.
# Only files unchanged since HEAD are emptied, so `restore` (a plain git checkout) cannot lose work.
set -eu
cd "$(git rev-parse --show-toplevel)"
SLIMMABLE=(src/tddfa/models docs/gallery)
case "${1:-}" in
slim)
    shift
    for f in $(git ls-files "${SLIMMABLE[@]}"); do
        keep=0
        for k in "$@"; do [ "$f" = "$k" ] && keep=1; done
        if [ $keep = 0 ] && git diff --quiet HEAD -- "$f"; then : > "$f"; fi
    done
    git status --short "${SLIMMABLE[@]}" | wc -l | xargs echo "files emptied:"
    ;;
size)
    shift
    { git ls-files; git ls-files --others --exclude-standard; } | sort -u | while read -r f; do [ -f "$f" ] && echo "$f"; done \
        | tr '\n' '\0' | xargs -0 du -cb | tail -1 | awk '{printf "tree %.1f MB\n", $1 / 1e6}'
    for c in "$@"; do du -sb "$c" | awk -v c="$c" '{printf "carry %s %.1f MB\n", c, $1 / 1e6}'; done
    ;;
restore)
    git checkout -- "${SLIMMABLE[@]}"
    git status --short "${SLIMMABLE[@]}" | wc -l | xargs echo "files still modified:"
    ;;
*)
    echo "usage: $0 slim [KEEP...] | size [CARRY...] | restore" >&2
    exit 2
    ;;
esac
