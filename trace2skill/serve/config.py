"""What the analyst deployment reserves: plain pydantic, no Ray, so the run options can hold it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ReplicaConfig(BaseModel):
    """How many analyst replicas Serve runs, and what each one reserves."""

    model_config = ConfigDict(extra="forbid")

    num_replicas: int = Field(1, ge=1, description="Fixed replica count (ignored when autoscaling is set).")
    autoscaling: dict[str, Any] | None = Field(
        None, description="Serve autoscaling_config: min_replicas, max_replicas, target_ongoing_requests, ..."
    )
    num_cpus: float | None = Field(None, ge=0, description="CPUs per replica (default: 1 for embedded, else 0).")
    num_gpus: float = Field(0.0, ge=0, description="GPUs per replica.")
    resources: dict[str, float] = Field(
        default_factory=dict, description="Custom Ray resources per replica, e.g. to pin replicas to a node type."
    )
    max_ongoing_requests: int = Field(8, ge=1, description="Requests one replica accepts at once.")
