"""The regression gate: the comparison and its verdicts (``compare``), each gate assembled
from its inputs (``assemble``: two results files, or a revision measured now), and the
gate's own benchmark (``power``)."""
