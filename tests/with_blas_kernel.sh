#!/usr/bin/env bash
# Runs a command with OpenBLAS forced to one of its x86-64 kernels (OPENBLAS_CORETYPE), so that the
# numerical suites are checked against the roundings of every kernel a CI machine might select, not
# only this machine's. Exits 77 (ctest: skipped, with the reason) when the CPU cannot run that
# kernel: forcing an AVX-512 kernel on a CPU without AVX-512 would die of SIGILL.
#   tests/with_blas_kernel.sh Haswell ./build/tests/rsd_tests --test-suite=ops
set -euo pipefail
kernel=${1:?usage: with_blas_kernel.sh KERNEL COMMAND [ARGS...]}
shift
case "$kernel" in
  Prescott) needs="sse3" ;;  # /proc/cpuinfo calls SSE3 "pni"
  Haswell | Zen) needs="avx2 fma" ;;
  SkylakeX) needs="avx512f avx512cd avx512bw avx512dq avx512vl" ;;
  *) echo "with_blas_kernel.sh: no CPU requirements known for kernel '$kernel'" >&2; exit 2 ;;
esac
if [[ $(uname -m) != x86_64 ]]; then
  echo "skipped: OpenBLAS's $kernel kernel is x86-64 only; this is $(uname -m)"
  exit 77
fi
flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
for f in $needs; do
  [[ $f == sse3 ]] && f=pni
  if [[ $flags != *" $f "* ]]; then
    echo "skipped: this CPU lacks $f, which OpenBLAS's $kernel kernel needs"
    exit 77
  fi
done
export OPENBLAS_CORETYPE=$kernel
echo "OPENBLAS_CORETYPE=$kernel $*"
exec "$@"
