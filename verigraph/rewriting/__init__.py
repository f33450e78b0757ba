"""Named rewrite rules (importing this package registers them) and the driver that applies them."""
from verigraph.rewriting import merge, shape  # noqa: F401
from verigraph.rewriting import canonicalize, fusion, inplace, specialize, stabilize  # noqa: F401
from verigraph.rewriting import dense, gemm, sum_fusion  # noqa: F401
from verigraph.rewriting import fill, onehot_grad, signs  # noqa: F401
from verigraph.rewriting.db import Rule, node_rule, rules  # noqa: F401
