"""Overhead of the private drift release on a 1M-row batch, side by side with the exact (non-private) statistics.

The drift phase publishes, per batch, the distribution table (reference vs batch counts per bin
and level) computed from the batch statistics. With ``privacy.releases.drift`` set, it also
releases those counts with Laplace noise (``private_distribution``), releases bounded means
(``private_means``) and spends the release's epsilon from the batch's budget in the ledger
(``privacy_ledger.spend``, an audit-trail append under a file lock). This script times, on the
same 1M-row batch of the demo's columns (``workbench.data.demo.make_frame``, 6 numeric + 6
categorical profiled columns) and a profile of an 8,000-row reference:

- non-private: ``drift.batch_stats`` + ``drift.distribution_table``;
- private: the same + ``private_distribution`` + ``private_means`` + one ledger spend;

in exact and sketch modes (best of ``--repeat`` runs each, taken in turns after a warm-up, and the
median ratio of the pairs), then the one-off costs a process pays on its first private release
(importing OpenDP's submodules vs its ``prelude``, which pulls in scikit-learn), and the ledger
spend against a longer audit log.

Usage: ``python benchmarks/privacy.py [--rows 1000000] [--repeat 5]``. Not a test: numbers are
printed, not asserted.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from workbench.analyses import drift  # noqa: E402
from workbench.analyses.privacy import private_distribution, private_means  # noqa: E402
from workbench.data.demo import make_frame  # noqa: E402
from workbench.governance import audit, privacy_ledger  # noqa: E402

NUMERIC = ["tenure_months", "monthly_charges", "total_charges", "support_calls", "num_products", "avg_session_minutes"]
CATEGORICAL = ["contract", "payment_method", "internet_service", "region", "gender", "age_band"]
BOUNDS = {"tenure_months": (1.0, 72.0), "monthly_charges": (15.0, 150.0), "total_charges": (0.0, 10_000.0), "support_calls": (0.0, 20.0),
          "num_products": (1.0, 5.0), "avg_session_minutes": (0.0, 120.0)}
EPSILON = 1.0  # the drift release: half to the distribution table, half to the means


def _plain(profile: drift.ReferenceProfile, batch) -> object:  # noqa: ANN001
    drift.batch_stats(batch, profile)
    return drift.distribution_table(profile, batch)


def _private(profile: drift.ReferenceProfile, batch, store: Path) -> None:  # noqa: ANN001
    table = _plain(profile, batch)
    privacy_ledger.spend(store, dataset="batch-1m.parquet", sha256="ab" * 32, release="drift", epsilon=EPSILON, budget_epsilon=1e6)
    private_distribution(table, epsilon=EPSILON / 2)
    private_means(batch, bounds=BOUNDS, epsilon=EPSILON / 2)


def _times(fn, repeat: int) -> list[float]:  # noqa: ANN001
    fn()  # warm-up: first-touch page faults, caches
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _best(fn, repeat: int) -> float:  # noqa: ANN001
    """The fastest of ``repeat`` runs: the least disturbed by other processes (as ``timeit`` advises)."""
    return min(_times(fn, repeat))


def _paired(plain, private, repeat: int) -> tuple[float, float, float]:  # noqa: ANN001
    """Best time of each, and the median ratio of runs taken in turns (so a load change hits both sides alike)."""
    plain(), private()  # warm-ups
    plains, privates = [], []
    for _ in range(repeat):
        for fn, out in ((plain, plains), (private, privates)):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return min(plains), min(privates), statistics.median(b / a for a, b in zip(plains, privates, strict=True))


def _first_call(code: str) -> float:
    """Seconds a fresh interpreter spends on ``code`` (imports included), the median of 3."""
    probe = f"import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"
    return statistics.median(float(subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                                                  check=True).stdout) for _ in range(3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    reference = make_frame(8_000, seed=1)
    batch = make_frame(args.rows, month="2026-03", seed=2)
    print(f"batch: {len(batch):,} rows, {len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical profiled columns; "
          f"drift release epsilon {EPSILON:g} (distribution {EPSILON / 2:g}, means {EPSILON / 2:g})\n")
    print(f"{'mode':8} {'non-private s':>14} {'private s':>10} {'overhead':>9} {'pairs median':>13} {'DP parts s':>11} "
          f"{'DP parts / non-private':>23}   distribution / means / ledger spend (s)")
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("exact", "sketch"):
            profile = drift.build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL, mode=mode)
            store = Path(tmp) / mode
            plain, private, ratio = _paired(lambda: _plain(profile, batch), lambda: _private(profile, batch, store), args.repeat)  # noqa: B023
            table = _plain(profile, batch)
            parts = [_best(lambda: private_distribution(table, epsilon=EPSILON / 2), args.repeat),  # noqa: B023
                     _best(lambda: private_means(batch, bounds=BOUNDS, epsilon=EPSILON / 2), args.repeat),
                     _best(lambda: privacy_ledger.spend(store, dataset="b", sha256="cd" * 32, release="drift",  # noqa: B023
                                                        epsilon=1e-6, budget_epsilon=1e6), args.repeat)]
            print(f"{mode:8} {plain:14.3f} {private:10.3f} {private / plain - 1:9.1%} {ratio - 1:13.1%} {sum(parts):11.4f} {sum(parts) / plain:23.1%}"
                  f"   {parts[0]:.4f} / {parts[1]:.4f} / {parts[2]:.4f}   ({len(table)} bins)")
        print("(times and overhead: best of the runs, taken in turns; pairs median: the median ratio of those pairs, which moves with\n"
              " other load on the machine; DP parts: each timed alone, best run: the stable measure of what privacy adds)")
        print("\nledger spend against a longer audit log (it reads the log under its lock to sum earlier spends):")
        store = Path(tmp) / "long"
        for events in (0, 1_000, 5_000):
            while len(audit.read(store)) < events:
                audit.record(store, "data_access", "filler.parquet", sha256="ef" * 32)
            spend = _best(lambda: privacy_ledger.spend(store, dataset="b", sha256="ab" * 32, release="drift",  # noqa: B023
                                                       epsilon=1e-6, budget_epsilon=1e6), 5)
            print(f"  {events:>6,} earlier events: {spend * 1000:7.1f} ms per spend")
    print("\nfirst private release in a fresh process (one-off, per process):")
    first = _first_call("from workbench.analyses.privacy import laplace; laplace([0.0], sensitivity=1.0, epsilon=1.0)")
    prelude = _first_call("import opendp.prelude as dp; dp.enable_features('contrib')")
    print(f"  import workbench.analyses.privacy + OpenDP submodules + first draw: {first:.2f} s")
    print(f"  for comparison, `import opendp.prelude` alone (pulls in scikit-learn): {prelude:.2f} s")


if __name__ == "__main__":
    main()
