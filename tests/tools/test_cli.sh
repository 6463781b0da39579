#!/bin/sh
# The nplm command end to end: generate, run (the same t as the C API), the input formats
# (.npy versions 1-3, float32, big-endian, Fortran order, CSV with a header and column
# selection), calibrate (shards reproduce one run), eval, --help, and bad input (one line on
# stderr, non-zero exit). Usage: test_cli.sh NPLM API_T PYTHON
set -eu
abspath() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
NPLM=$(abspath "$1") API_T=$(abspath "$2") PY=$3
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
fail() { echo "FAIL: $*"; exit 1; }

for c in run calibrate tune-clip nuisance-learn eval generate merge preprocess; do
  "$NPLM" $c --help > help.txt || fail "$c --help exits non-zero"
  grep -q "usage: nplm" help.txt || fail "$c --help prints no usage"
done

"$NPLM" generate 1d --events 4000 --seed 1 --out ref.npy > /dev/null
"$NPLM" generate 1d --poisson 100 --seed 2 --signal gauss:6.4,0.16,8 --out data.csv > /dev/null
"$NPLM" generate 1d --events 20000 --seed 3 --out pool.npy > /dev/null

# run: the C API's t, bit for bit
"$NPLM" run --reference ref.npy --data data.csv --n-expected 100 --json run.json --save-model f.bin > out.txt
T_API=$("$API_T" ref.npy data.csv 100)
"$PY" - "$T_API" <<'PYEOF' || fail "nplm run t differs from the C API's"
import json, sys
t = json.load(open("run.json"))["t"]
want = float(sys.argv[1])
assert t == want, (t, want)
assert "p_chi2" in json.load(open("run.json"))
PYEOF

# formats: float32 / big-endian / Fortran / versions 2 and 3 / CSV with a header, same values
"$PY" - <<'PYEOF'
import numpy as np
from numpy.lib import format as F
x = np.load("ref.npy").astype(np.float32).astype(np.float64)  # values exact in float32
np.save("r64.npy", x)
np.save("r32be.npy", np.asfortranarray(x.astype(">f4").reshape(-1, 1)))
with open("r_v2.npy", "wb") as f: F.write_array(f, x.reshape(-1, 1), version=(2, 0))
with open("r_v3.npy", "wb") as f: F.write_array(f, x.reshape(-1, 1), version=(3, 0))
two = np.column_stack([np.arange(len(x), dtype=float), x])
np.savetxt("r.csv", two, delimiter=",", header="index,x", comments="")
np.save("r2d_f.npy", np.asfortranarray(two))
PYEOF
T0=$("$NPLM" run --reference r64.npy --data data.csv --n-expected 100 --json - | "$PY" -c "import json,sys; print(repr(json.load(sys.stdin)['t']))" | tail -1)
case "$T0" in [0-9]*) ;; *) fail "run --json - gave no t ($T0)";; esac
# --starts: start 0 is the one-start fit, so t with three starts is never below it
T3=$("$NPLM" run --reference r64.npy --data data.csv --n-expected 100 --starts 3 --json - | "$PY" -c "import json,sys; print(repr(json.load(sys.stdin)['t']))" | tail -1)
"$PY" -c "import sys; sys.exit(0 if float('$T3') >= float('$T0') else 1)" || fail "--starts 3 gave t $T3 < $T0"
for spec in "r32be.npy" "r_v2.npy" "r_v3.npy" "r.csv --columns x" "r2d_f.npy --columns 1"; do
  set -- $spec
  f=$1; shift
  if [ $# -gt 0 ]; then
    # column selection applies to both files: give the data the same two columns
    "$PY" -c "
import numpy as np
d = np.loadtxt('data.csv', ndmin=1)
np.savetxt('d2.csv', np.column_stack([np.zeros(len(d)), d]), delimiter=',', header='index,x', comments='')"
    T=$("$NPLM" run --reference "$f" --data d2.csv "$@" --n-expected 100 --json - | "$PY" -c "import json,sys; print(repr(json.load(sys.stdin)['t']))" | tail -1)
  else
    T=$("$NPLM" run --reference "$f" --data data.csv --n-expected 100 --json - | "$PY" -c "import json,sys; print(repr(json.load(sys.stdin)['t']))" | tail -1)
  fi
  [ -n "$T" ] && [ "$T" = "$T0" ] || fail "reference $spec gives t = $T, float64 .npy gives $T0"
done

# HDF5, when the command is built with it: the only dataset, FILE:DATASET, float32 storage
if "$NPLM" version | grep -q "hdf5: yes" && "$PY" -c "import h5py" 2> /dev/null; then
  "$PY" - <<'PYEOF'
import h5py, numpy as np
x = np.load("r64.npy").reshape(-1, 1)
with h5py.File("r.h5", "w") as f: f["events"] = x
with h5py.File("r32.h5", "w") as f: f["events"] = x.astype(np.float32)
with h5py.File("two.h5", "w") as f: f["a"] = x; f["b"] = x
PYEOF
  for spec in r.h5 r.h5:events r32.h5 two.h5:b; do
    T=$("$NPLM" run --reference "$spec" --data data.csv --n-expected 100 --json - | "$PY" -c "import json,sys; print(repr(json.load(sys.stdin)['t']))" | tail -1)
    [ -n "$T" ] && [ "$T" = "$T0" ] || fail "reference $spec gives t = $T, the .npy $T0"
  done
  H5_BAD="two.h5 two.h5:zz"
else
  H5_BAD=""
fi

# calibrate: two shards reproduce one run, whatever the threads
"$NPLM" calibrate --reference ref.npy --pool pool.npy --n-expected 100 --toys 4 --seed 9 --json all.json > /dev/null
"$NPLM" calibrate --reference ref.npy --pool pool.npy --n-expected 100 --toys 2 --seed 9 --threads 1 --json s0.json > /dev/null
"$NPLM" calibrate --reference ref.npy --pool pool.npy --n-expected 100 --toys 2 --first-toy 2 --seed 9 --json s1.json > /dev/null
"$PY" - <<'PYEOF' || fail "calibration shards differ from one run"
import json
a = json.load(open("all.json"))["t_null"]
b = json.load(open("s0.json"))["t_null"] + json.load(open("s1.json"))["t_null"]
assert a == b and len(a) == 4, (a, b)
PYEOF
# MPI, when the command is built with it: mpirun -np 2 gives the single-process t values
if "$NPLM" version | grep -q "mpi: yes" && command -v mpirun > /dev/null; then
  mpirun --allow-run-as-root --oversubscribe -np 2 "$NPLM" calibrate --reference ref.npy \
    --pool pool.npy --n-expected 100 --toys 4 --seed 9 --threads 1 --json mpi.json > /dev/null
  mpirun --allow-run-as-root --oversubscribe -np 3 "$NPLM" calibrate --reference ref.npy \
    --pool pool.npy --n-expected 100 --toys 4 --seed 9 --threads 1 --json mpi3.json > /dev/null
  "$PY" - <<'PYEOF' || fail "mpirun calibration differs from one process"
import json
a = json.load(open("all.json"))
for f in ("mpi.json", "mpi3.json"):
    m = json.load(open(f))
    assert m["t_null"] == a["t_null"] and m["options"] == a["options"] and m["seed"] == a["seed"] == 9, (f, m["t_null"], a["t_null"])
PYEOF
fi

# checkpoint: an interrupted calibration resumes and gives the uninterrupted t values
"$NPLM" calibrate --reference ref.npy --pool pool.npy --n-expected 100 --toys 4 --seed 9 --checkpoint ck.jsonl --json ck_full.json > /dev/null
head -n 3 ck.jsonl > ck_cut.jsonl                       # settings + 2 toys ...
printf '{"toy": 2, "t": 1.' >> ck_cut.jsonl             # ... and a line cut mid-write
mv ck_cut.jsonl ck.jsonl
"$NPLM" calibrate --reference ref.npy --pool pool.npy --n-expected 100 --toys 4 --seed 9 --checkpoint ck.jsonl --json ck_resumed.json > /dev/null 2> resume.err
grep -q "resuming: 2 of 4" resume.err || fail "calibrate --checkpoint did not resume"
"$PY" - <<'PYEOF' || fail "resumed calibration differs"
import json
a = json.load(open("all.json"))["t_null"]
assert json.load(open("ck_full.json"))["t_null"] == a
assert json.load(open("ck_resumed.json"))["t_null"] == a
PYEOF

# a rerun with fewer toys keeps the others in the file (they were once dropped), and a
# checkpoint of another pool is refused (it once resumed with the first pool's t)
"$NPLM" calibrate --reference ref.npy --pool pool.npy --n-expected 100 --toys 2 --seed 9 --checkpoint ck.jsonl > /dev/null 2>&1
"$NPLM" calibrate --reference ref.npy --pool pool.npy --n-expected 100 --toys 4 --seed 9 --checkpoint ck.jsonl > /dev/null 2> resume.err
grep -q "resuming: 4 of 4" resume.err || fail "a shorter rerun dropped checkpointed toys"
"$NPLM" generate 1d --events 20000 --seed 33 --out pool2.npy > /dev/null
if "$NPLM" calibrate --reference ref.npy --pool pool2.npy --n-expected 100 --toys 4 --seed 9 \
    --checkpoint ck.jsonl > /dev/null 2> pool2.err; then
  fail "a checkpoint of another pool was resumed"
fi
grep -q "other settings" pool2.err || fail "a checkpoint of another pool: $(cat pool2.err)"
"$NPLM" generate 1d --events 4000 --seed 34 --out ref2.npy > /dev/null
"$NPLM" calibrate --reference ref2.npy --pool pool.npy --n-expected 100 --toys 2 --first-toy 2 --seed 9 --json s1_ref2.json > /dev/null

# merge: shards in any order give one run's calibration; overlaps, gaps and other settings are refused
SLURM_ARRAY_TASK_ID=1 "$NPLM" calibrate --reference ref.npy --pool pool.npy --n-expected 100 --toys 2 --seed 9 --shard-from-env --json env1.json > /dev/null
"$NPLM" merge --out merged.json s1.json s0.json > /dev/null
"$PY" - <<'PYEOF' || fail "merge / --shard-from-env"
import json
a = json.load(open("all.json")); m = json.load(open("merged.json")); e = json.load(open("env1.json"))
assert m["t_null"] == a["t_null"] and m["first_toy"] == 0 and m["n_toys"] == 4, m
assert e["t_null"] == json.load(open("s1.json"))["t_null"] and e["first_toy"] == 2, e
assert m["options"] == a["options"] and m["seed"] == a["seed"] == 9, (m["options"], a["options"])
PYEOF
"$NPLM" calibrate --reference ref.npy --pool pool.npy --n-expected 100 --toys 2 --first-toy 4 --seed 10 --json other.json > /dev/null
"$NPLM" calibrate --reference ref.npy --pool pool.npy --n-expected 100 --toys 2 --first-toy 5 --seed 9 --json gap.json > /dev/null
"$NPLM" run --reference ref.npy --data data.csv --n-expected 100 --calibration all.json --json cal_run.json > /dev/null
"$PY" -c "import json; d=json.load(open('cal_run.json')); assert d['n_toys'] == 4 and 0 < d['p_empirical'] <= 1" || fail "run --calibration"

# eval: one value per data event
N=$("$NPLM" eval --model-file f.bin --data data.csv | wc -l)
ND=$(grep -c . data.csv)
[ "$N" = "$ND" ] || fail "eval printed $N values for $ND events"

# kernel model through the command
"$NPLM" run --reference ref.npy --data data.csv --n-expected 100 --model kernel:0,0.7,1e-6 > /dev/null || fail "kernel run"

# tune-clip and nuisance-learn, small
"$NPLM" tune-clip --reference ref.npy --pool pool.npy --n-expected 100 --model mlp:1,3,1 \
  --toys 5 --steps 2 --lo 1 --hi 4 > tune.txt
grep -q "chosen clip" tune.txt || fail "tune-clip chose no clip"
[ "$(grep -c '^clip' tune.txt)" = 2 ] || fail "tune-clip did not report 2 steps"
"$NPLM" generate 1d --events 3000 --seed 11 --out nom.npy > /dev/null
"$NPLM" generate 1d --events 3000 --seed 12 --scale -0.2 --out vm.npy > /dev/null
"$NPLM" generate 1d --events 3000 --seed 13 --scale 0.2 --out vp.npy > /dev/null
"$NPLM" nuisance-learn --nominal nom.npy --varied vm.npy@-0.2,vp.npy@0.2 --sigma 0.1 --order 1 \
  --iterations 100 --norm 0.05 --out scale.nuis > learn.txt
grep -q "training loss" learn.txt || fail "nuisance-learn reported no loss"
"$NPLM" run --reference ref.npy --data data.csv --n-expected 100 --nuisance scale.nuis \
  --aux 0=0.01 --json nu.json > /dev/null
"$PY" - <<'PYEOF' || fail "run --nuisance"
import json
d = json.load(open("nu.json"))
assert len(d["nu_tau"]) == 2 and len(d["nu_delta"]) == 2, d
assert abs(d["t"] - (d["tau"] - d["delta"])) < 1e-9 * max(1, abs(d["tau"])), d
PYEOF
# with nuisances, Adam then L-BFGS-B: the same Delta (always L-BFGS-B), tau at least Adam's
for o in adam adam-lbfgsb; do
  "$NPLM" run --reference ref.npy --data data.csv --n-expected 100 --nuisance scale.nuis \
    --aux 0=0.01 --optimizer $o --epochs 300 --json nu_$o.json > /dev/null
done
"$PY" - <<'PYEOF' || fail "run --nuisance --optimizer adam-lbfgsb"
import json
a, h = json.load(open("nu_adam.json")), json.load(open("nu_adam-lbfgsb.json"))
assert h["delta"] == a["delta"], (h["delta"], a["delta"])
assert h["tau"] >= a["tau"], (h["tau"], a["tau"])
assert abs(h["t"] - (h["tau"] - h["delta"])) < 1e-9 * max(1, abs(h["tau"])), h
PYEOF
# a second shape nuisance appended to the module: indices 0 (scale), 1 (norm), 2 (new shape)
"$NPLM" nuisance-learn --nominal nom.npy --varied vm.npy@-0.2,vp.npy@0.2 --sigma 0.05 --order 1 \
  --iterations 100 --add-to scale.nuis --out two.nuis > learn2.txt
grep -q "shape nuisance 2" learn2.txt || fail "nuisance-learn --add-to: $(cat learn2.txt)"
grep -q "validation loss nan" learn2.txt && fail "nuisance-learn --add-to: no validation split"
"$NPLM" run --reference ref.npy --data data.csv --n-expected 100 --nuisance two.nuis \
  --aux 2=0.01 --json nu_two.json > /dev/null
"$PY" -c "import json; d=json.load(open('nu_two.json')); assert len(d['nu_tau']) == 3, d" ||
  fail "run with an appended nuisance"
# several --aux values (a list and a repeated flag); null toys with drawn auxiliary measurements,
# sharded and merged
"$NPLM" run --reference ref.npy --data data.csv --n-expected 100 --nuisance scale.nuis \
  --aux 0=0.01,1=0.02 --json nu2.json > /dev/null
"$NPLM" run --reference ref.npy --data data.csv --n-expected 100 --nuisance scale.nuis \
  --aux 0=0.01 --aux 1=0.02 --json nu3.json > /dev/null
NUC="--reference ref.npy --pool pool.npy --n-expected 100 --nuisance scale.nuis --aux 1=0.02 --seed 4"
"$NPLM" calibrate $NUC --toys 3 --json fixed.json > /dev/null
"$NPLM" calibrate $NUC --toys 3 --draw-aux --json drawn.json > /dev/null
"$NPLM" calibrate $NUC --toys 2 --draw-aux --json drawn0.json > /dev/null
"$NPLM" calibrate $NUC --toys 1 --first-toy 2 --draw-aux --threads 1 --json drawn2.json > /dev/null
"$NPLM" merge --out drawn_m.json drawn2.json drawn0.json > /dev/null
"$PY" - <<'PYEOF' || fail "--aux lists, calibrate --draw-aux"
import json
a, b, c = (json.load(open(f)) for f in ("nu.json", "nu2.json", "nu3.json"))
assert b["options"]["aux"] == [[0, 0.01], [1, 0.02]] == c["options"]["aux"], b["options"]
assert b["t"] == c["t"] and b["t"] != a["t"], (a["t"], b["t"], c["t"])
f, d, m = (json.load(open(x)) for x in ("fixed.json", "drawn.json", "drawn_m.json"))
assert f["options"]["toy_aux"] == "fixed" and d["options"]["toy_aux"] == "draw", d["options"]
assert d["options"]["aux"] == [[1, 0.02]], d["options"]
assert all(x != y for x, y in zip(f["t_null"], d["t_null"])), (f["t_null"], d["t_null"])
assert m["t_null"] == d["t_null"], (m["t_null"], d["t_null"])
assert all(a == [0.0, 0.02] for a in f["aux_null"]), f["aux_null"]
assert len({a[1] for a in d["aux_null"]}) == 3 and all(a[1] != 0.02 for a in d["aux_null"]), d
assert all(t == u - v for t, u, v in zip(d["t_null"], d["tau_null"], d["delta_null"])), d
assert len(d["nu_delta_null"]) == 3 and all(len(v) == 2 for v in d["nu_delta_null"]), d
PYEOF

# Adam then L-BFGS-B: recorded in the calibration's options, and t at least Adam's alone
"$NPLM" calibrate --reference ref.npy --pool pool.npy --n-expected 100 --toys 2 --seed 9 \
  --optimizer adam-lbfgsb --epochs 200 --json hyb.json > /dev/null
"$NPLM" calibrate --reference ref.npy --pool pool.npy --n-expected 100 --toys 2 --seed 9 \
  --optimizer adam --epochs 200 --json adam.json > /dev/null
"$PY" - <<'PYEOF' || fail "calibrate --optimizer adam-lbfgsb"
import json
h, a = json.load(open("hyb.json")), json.load(open("adam.json"))
assert h["options"]["optimizer"] == "adam-lbfgsb", h["options"]
assert a["options"]["optimizer"] == "adam", a["options"]
assert all(x >= y for x, y in zip(h["t_null"], a["t_null"])), (h["t_null"], a["t_null"])
PYEOF

# bad input: one line on stderr, non-zero exit, nothing on stdout
check_bad() {
  want=$1; shift
  set +e
  "$NPLM" "$@" > bad.out 2> bad.err
  rc=$?
  set -e
  [ "$rc" = "$want" ] || fail "'$*' exits $rc, want $want"
  [ "$(wc -l < bad.err)" = 1 ] || fail "'$*' printed $(wc -l < bad.err) lines on stderr"
  [ ! -s bad.out ] || fail "'$*' printed on stdout"
}
check_bad 1 run --reference missing.npy --data data.csv --n-expected 100
grep -q missing.npy bad.err || fail "the error does not name the file"
check_bad 2 run --reference ref.npy --data data.csv --n-expected 100 --no-such-flag 3
# a missing required option is a usage error too (it exited 1 until 2026-12-03)
check_bad 2 run --reference ref.npy --n-expected 100
grep -q -- "--data is required" bad.err || fail "the error does not name --data"
check_bad 2 run --data data.csv --n-expected 100
check_bad 2 calibrate --reference ref.npy --n-expected 100 --toys 2
check_bad 2 calibrate --reference ref.npy --pool pool.npy --n-expected 100
check_bad 2 eval --data data.csv
check_bad 2 generate 1d --events 10
check_bad 2 nuisance-learn --nominal ref.npy --varied ref.npy --out x.nuis
check_bad 1 run --reference ref.npy --data data.csv --n-expected abc
check_bad 1 run --reference ref.npy --data data.csv --n-expected 100 --optimizer sgd
grep -q "adam-lbfgsb" bad.err || fail "--optimizer sgd: the choices are not named"
check_bad 1 run --reference ref.npy --data data.csv --n-expected 100 --starts 0
grep -q "starts" bad.err || fail "--starts 0: the error does not name the flag"
check_bad 1 run --reference ref.npy --data data.csv --n-expected 100 --model mlp:2,4,1
check_bad 1 run --reference ref.npy --data data.csv --n-expected 100 --model tree:3
printf 'x\n1\nfoo\n' > broken.csv
check_bad 1 run --reference broken.csv --data data.csv --n-expected 100
printf '\223NUMPY\001\000\010\000{junk}  ' > broken.npy
check_bad 1 run --reference broken.npy --data data.csv --n-expected 100
check_bad 1 eval --model-file nothing.bin --data data.csv
"$PY" - <<'PYEOF'
import numpy as np
np.save("two_cols.npy", np.ones((50, 2)))
x = np.load("ref.npy"); x[7] = np.nan; np.save("nan.npy", x)
raw = open("ref.npy", "rb").read(); open("trunc.npy", "wb").write(raw[:-8])
PYEOF
check_bad 1 run --reference ref.npy --data two_cols.npy --n-expected 100
grep -q "columns" bad.err || fail "wrong dims: the error does not say columns"
check_bad 1 run --reference nan.npy --data data.csv --n-expected 100
grep -q "not finite" bad.err || fail "NaN: the error does not say 'not finite'"
check_bad 1 run --reference trunc.npy --data data.csv --n-expected 100
grep -q "trunc.npy" bad.err || fail "truncated .npy: the error does not name the file"
check_bad 1 calibrate --reference ref.npy --pool two_cols.npy --n-expected 100 --toys 2
check_bad 1 calibrate --reference ref.npy --pool pool.npy --n-expected 100 --toys 0
check_bad 1 calibrate --reference ref.npy --pool pool.npy --n-expected 100 --toys 2 --draw-aux
grep -q "draw-aux" bad.err || fail "--draw-aux without nuisances: not named"
check_bad 1 run --reference ref.npy --data data.csv --n-expected 100 --nuisance scale.nuis --aux 0=abc
grep -q -- "--aux" bad.err || fail "bad --aux value: not named"
check_bad 1 run --reference ref.npy --data data.csv --n-expected 100 --nuisance scale.nuis --aux 5=0.1
grep -q -- "--aux" bad.err || fail "--aux index out of range: not named"
check_bad 1 eval --model-file f.bin --data two_cols.npy
check_bad 1 tune-clip --reference ref.npy --pool pool.npy --n-expected 100 --model kernel:10,1,1e-6
check_bad 1 nuisance-learn --nominal nom.npy --varied vm.npy --sigma 0.1 --out x.nuis
# preprocess: the reference's maps (published recipe and plain standardisation, weighted),
# the same maps for every file, against numpy
"$PY" - <<'PYEOF'
import numpy as np
rng = np.random.default_rng(5)
r = np.column_stack([rng.exponential(40.0, 3000) + 20, rng.normal(0.3, 1.2, 3000),
                     rng.uniform(0.1, 0.9, 3000)])
np.save("pre_ref.npy", r)
np.save("pre_w.npy", rng.uniform(0.5, 1.5, 3000))
np.save("pre_data.npy", r[:50] * 1.1 - 0.2)
PYEOF
"$NPLM" preprocess --reference pre_ref.npy --in pre_ref.npy --out pre_ref_p.npy \
  --in pre_data.npy --out pre_data_p.npy --params pre.json > pre.txt || fail "preprocess"
"$NPLM" preprocess --reference pre_ref.npy --weights pre_w.npy --mode standard \
  --in pre_data.npy --out pre_data_s.npy > /dev/null || fail "preprocess --mode standard"
"$PY" - <<'PYEOF' || fail "preprocess maps"
import json
import numpy as np
r, d, w = np.load("pre_ref.npy"), np.load("pre_data.npy"), np.load("pre_w.npy")
m, s = r.mean(0), r.std(0)
want = lambda x: np.column_stack([x[:, 0] / m[0], (x[:, 1] - m[1]) / s[1], x[:, 2]])
for got, x in ((np.load("pre_ref_p.npy"), r), (np.load("pre_data_p.npy"), d)):
    assert got.shape == x.shape and np.allclose(got, want(x), rtol=1e-13, atol=1e-13), got[:2]
p = json.load(open("pre.json"))
assert p["mode"] == "nplm", p
want_shift, want_scale = [0.0, m[1], 0.0], [1 / m[0], 1 / s[1], 1.0]
for f, sh, sc in zip(p["features"], want_shift, want_scale):
    assert abs(f["shift"] - sh) <= 1e-13 * abs(sh) and abs(f["scale"] - sc) <= 1e-13 * sc, p
assert p["features"][0]["shift"] == 0 and p["features"][2] == {"shift": 0, "scale": 1}, p
mw = (w[:, None] * r).sum(0) / w.sum()
sw = np.sqrt((w[:, None] * (r - mw) ** 2).sum(0) / w.sum())
assert np.allclose(np.load("pre_data_s.npy"), (d - mw) / sw, rtol=1e-13, atol=1e-13)
PYEOF
check_bad 1 preprocess --reference pre_ref.npy --in pre_data.npy
grep -q -- "--out" bad.err || fail "preprocess: a missing --out not named"
check_bad 1 preprocess --reference pre_ref.npy --mode minmax --in pre_data.npy --out x.npy
check_bad 1 preprocess --reference pre_ref.npy --in ref.npy --out x.npy
grep -q "columns" bad.err || fail "preprocess: a column mismatch not named"
check_bad 1 preprocess --reference pre_ref.npy --weights ref.npy --in pre_data.npy --out x.npy
"$PY" -c "import numpy as np; w = np.ones(3000); w[17] = -1; np.save('pre_wneg.npy', w)"
check_bad 1 preprocess --reference pre_ref.npy --weights pre_wneg.npy --in pre_data.npy --out x.npy
grep -q "w\[17\]" bad.err || fail "preprocess: a negative weight not named"
check_bad 2 preprocess --reference ref.npy --mode standard --in ref.npy --out x.npy --frob 1
"$PY" -c "import numpy as np; np.save('pre_w0.npy', np.zeros(3000))"
check_bad 1 preprocess --reference pre_ref.npy --weights pre_w0.npy --in pre_data.npy --out x.npy
grep -q "sum to" bad.err || fail "preprocess: all-zero weights not named"

check_bad 1 nuisance-learn --nominal nom.npy --varied vm.npy@-0.2 --sigma 0.1 --out x.nuis --order 9
check_bad 1 generate 1d --out x.npy
check_bad 1 generate 1d --out x.npy --events 5 --signal triangle:3
check_bad 2 frobnicate
check_bad 1 merge --out m.json s0.json all.json
grep -q overlaps bad.err || fail "merge: overlap not named"
check_bad 1 merge --out m.json all.json gap.json
grep -q missing bad.err || fail "merge: gap not named"
check_bad 1 merge --out m.json all.json other.json
grep -q settings bad.err || fail "merge: other settings not named"
check_bad 1 merge --out m.json s0.json s1_ref2.json
grep -q settings bad.err || fail "merge: shards of another reference were merged"
check_bad 1 merge --out m.json nothing.json
check_bad 1 run --reference ref.npy --data data.csv --n-expected 100 --calibration run.json
grep -q "not a calibration file" bad.err || fail "run --calibration accepted a run's JSON"
check_bad 1 calibrate --reference ref.npy --pool pool.npy --n-expected 100 --toys 4 --seed 8 --checkpoint ck.jsonl
grep -q "other settings" bad.err || fail "checkpoint with other settings not refused"
check_bad 1 calibrate --reference ref.npy --pool pool.npy --n-expected 100 --toys 2 --shard-from-env NO_SUCH_VAR
# a shard whose n_toys is damaged (it once sized a buffer that wrapped and overflowed)
"$PY" - <<'PYEOF'
import json
s = json.load(open("s0.json"))
s["n_toys"] = 2305843009213693953
json.dump(s, open("huge.json", "w"))
PYEOF
check_bad 1 merge --out m.json huge.json
grep -q "toy range" bad.err || fail "merge: damaged n_toys not named"
check_bad 1 run --reference ref.npy --data data.csv --n-expected 100 --calibration huge.json
# a calibration is only the null of a run fitted the same way (it was used unchecked until
# 2026-12-03); the seed may differ
"$NPLM" run --reference ref.npy --data data.csv --n-expected 100 --seed 5 --calibration all.json > /dev/null || fail "run --calibration with another seed"
check_bad 1 run --reference ref.npy --data data.csv --n-expected 100 --clip 5 --calibration all.json
grep -q "made with clip 9, this run has clip 5" bad.err || fail "run --calibration: clip: $(cat bad.err)"
check_bad 1 run --reference ref.npy --data data.csv --n-expected 120 --calibration all.json
grep -q "n_expected" bad.err || fail "run --calibration: n_expected not named"
check_bad 1 run --reference ref2.npy --data data.csv --n-expected 100 --calibration all.json
grep -q "reference_hash" bad.err || fail "run --calibration: another reference not named"
check_bad 1 run --reference ref.npy --data data.csv --n-expected 100 --model mlp:1,3,1 --calibration all.json
grep -q "model" bad.err || fail "run --calibration: model not named"
# Poisson means the generators cannot draw from (they once segfaulted or wrote 0 events)
check_bad 1 generate 1d --out x.npy --events 5 --signal gamma3:inf
check_bad 1 generate 1d --out x.npy --poisson 10 --norm 800
check_bad 1 generate 1d --out x.csv --poisson 1e300
check_bad 1 generate 1d --out x.csv --poisson -3
check_bad 1 generate dilepton --out x.npy --events 3 --signal eft:inf
check_bad 1 generate 1d --out x.csv --events 5 --signal gauss:nan,1,2
check_bad 1 generate 1d --out x.csv --events 5 --scale 800
check_bad 1 run --reference ref.npy --data data.csv --n-expected 100 --clip -1
grep -q -- "--clip" bad.err || fail "a negative clip is not named"
# CSV: a first line with a number in it is data (a typo there once made it a header and
# dropped the event); a UTF-8 byte-order mark is skipped
printf '0.5,1x\n0.3,0.2\n0.1,0.4\n' > typo.csv
check_bad 1 preprocess --reference typo.csv --in typo.csv --out typo.npy
grep -q "line 1, column 2" bad.err || fail "a bad field on line 1 is not named"
printf '\357\273\2770.5\n0.3\n0.1\n' > bom.csv
"$NPLM" preprocess --reference bom.csv --in bom.csv --out bom.npy > bom.out
grep -q "(3 events)" bom.out || fail "the byte-order mark hid the first event: $(cat bom.out)"
# model specs are read strictly (a trailing comma, a sign or an empty field were accepted;
# "-4" units became 2^64 - 4)
for spec in mlp:1,4,1, mlp:1,-4,1 mlp:1,+4,1 mlp:1,,1 kernel:10,1, kernel:-3,1,1e-6 kernel:10,,1; do
  check_bad 1 run --reference ref.npy --data data.csv --n-expected 100 --model "$spec"
  grep -q -- "--model" bad.err || fail "--model $spec: the option is not named"
done
# an option that needs a value must have one (--events with none once made 1 event)
check_bad 2 generate 1d --out x.csv --events --seed 3
grep -q -- "--events needs a value" bad.err || fail "a missing value is not named"
check_bad 2 run --reference ref.npy --data data.csv --n-expected 100 --json
check_bad 1 run --reference ref.npy --data data.csv --n-expected 100 --dof -3
check_bad 1 run --reference ref.npy --data data.csv --n-expected 100 --dof 0
# --clip inf (documented: no clip) runs
"$NPLM" run --reference ref.npy --data data.csv --n-expected 100 --optimizer lbfgsb \
  --max-iterations 50 --clip inf > /dev/null 2>&1 || fail "--clip inf refused"
# a failed run leaves an earlier --json file as it was; write failures are failures
echo '{"kept": 1}' > keep.json
printf 'x\n1.0\nnan\n' > nan.csv
check_bad 1 run --reference ref.npy --data nan.csv --n-expected 100 --json keep.json
grep -q kept keep.json || fail "a failed run emptied its --json file"
[ ! -e keep.json.tmp ] || fail "a failed run left keep.json.tmp"
if [ -w /dev/full ]; then
  set +e
  "$NPLM" run --reference ref.npy --data data.csv --n-expected 100 --optimizer lbfgsb \
    --json /dev/full > /dev/null 2> bad.err
  rc=$?
  set -e
  [ "$rc" = 1 ] && grep -q /dev/full bad.err || fail "--json on a full device exits $rc"
  [ -c /dev/full ] || fail "--json /dev/full replaced the device"
  set +e
  "$NPLM" eval --model-file f.bin --data data.csv > /dev/full 2> bad.err
  rc=$?
  set -e
  [ "$rc" = 1 ] || fail "eval to a full device exits $rc"
fi
for spec in $H5_BAD; do
  check_bad 1 run --reference "$spec" --data data.csv --n-expected 100
done
echo "ok: nplm command"
