"""The six procedures of the feature-prediction paper by name, "(encoder)-(decoder)-(loss)" (Section VI).

Plain data: suites plan with it and reports label with it, without importing the models.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Procedure:
    name: str
    encoder: str  # 'I' image or 'F' loss-network features
    decoder: str  # 'I' image or 'F' features
    loss: str  # 'PW', 'PS' or 'FP'

    @property
    def uses_loss_network(self) -> bool:
        return self.encoder == "F" or self.loss != "PW"


PROCEDURES: dict[str, Procedure] = {
    name: Procedure(name, *name.split("-"))
    for name in ("I-I-PW", "I-I-PS", "F-I-PW", "F-I-PS", "I-F-FP", "F-F-FP")
}


def get_procedure(name: str) -> Procedure:
    if name not in PROCEDURES:
        raise ValueError(f"unknown procedure {name!r}; choose one of {', '.join(PROCEDURES)}")
    return PROCEDURES[name]
