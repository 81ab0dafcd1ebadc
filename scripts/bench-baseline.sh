#!/bin/sh
# Prepares a baseline build for `BENCH_BASELINE=<dir> npm run bench`: a git worktree of <commit> in
# <dir> whose node_modules links every third-party package from this checkout but its own
# workspace packages (@custody/*), so the baseline's processes run only the baseline's code.
# Usage: sh scripts/bench-baseline.sh <commit> <dir>
set -eu
commit=$1
dir=$2
here=$(cd "$(dirname "$0")/.." && pwd)
git -C "$here" worktree add --detach "$dir" "$commit"
mkdir -p "$dir/node_modules/@custody"
for entry in "$here"/node_modules/* "$here"/node_modules/.bin; do
  name=$(basename "$entry")
  [ "$name" = "@custody" ] || ln -s "$entry" "$dir/node_modules/$name"
done
for link in "$here"/node_modules/@custody/*; do
  ln -s "$(readlink "$link")" "$dir/node_modules/@custody/$(basename "$link")"
done
for modules in "$here"/apps/*/node_modules "$here"/packages/*/node_modules; do
  [ -d "$modules" ] || continue
  rel=${modules#"$here"/}
  [ -e "$dir/$rel" ] || ln -s "$modules" "$dir/$rel"
done
(cd "$dir" && npx tsc -b tsconfig.build.json)
echo "baseline $(git -C "$dir" rev-parse --short HEAD) built in $dir"
