"""``dpr_plugin/contract.py`` is the one place a tensor name is spelled in the package and the
benchmarks (tests spell them on purpose: a renamed tensor must fail them)."""

from __future__ import annotations

import re
from pathlib import Path

from dpr_plugin import contract

ROOT = Path(__file__).resolve().parents[1]
TENSOR_NAMES = sorted(
    {t.name for spec in contract.ONNX_MODELS for t in (*spec.inputs, *spec.outputs)}
)


def test_contract_no_module_but_contract_spells_a_tensor_name() -> None:
    quoted = re.compile("[\"'](" + "|".join(TENSOR_NAMES) + ")[\"']")
    spelled = [
        f"{path.relative_to(ROOT)}: {match.group(1)}"
        for folder in ("dpr_plugin", "benchmarks")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "contract.py" and "generated" not in path.parts
        for match in quoted.finditer(path.read_text())
    ]
    assert len(TENSOR_NAMES) >= 10
    assert spelled == []
