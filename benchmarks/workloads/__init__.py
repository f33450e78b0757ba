"""The workload registry, in report order; ``--only`` selects from these names."""

from benchmarks.workloads import (arithmetic, call_overhead, io3x3, logreg, mlp_compile,
                                  mlp_forward, mlp_train, rosenbrock, softmax, sum_sq_dev,
                                  transcendental)

WORKLOADS = [
    *call_overhead.WORKLOADS,
    *io3x3.WORKLOADS,
    *rosenbrock.WORKLOADS,
    *transcendental.WORKLOADS,
    *arithmetic.WORKLOADS,
    *sum_sq_dev.WORKLOADS,
    *softmax.WORKLOADS,
    *mlp_forward.WORKLOADS,
    *logreg.WORKLOADS,
    *mlp_train.WORKLOADS,
    *mlp_compile.WORKLOADS,
]
WORKLOADS_BY_NAME = {w.name: w for w in WORKLOADS}
