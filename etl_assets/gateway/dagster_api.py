"""The admin webserver's GraphQL API: what the code location holds, and launch, cancel and reload."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import httpx

WORKSPACE = """
query EtlWorkspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { repositories { name pipelines { name description } } }
          ... on PythonError { message }
        }
      }
    }
    ... on PythonError { message }
  }
}"""

PIPELINE = """
query EtlPipeline($selector: PipelineSelector!) {
  pipelineOrError(params: $selector) {
    __typename
    ... on Pipeline {
      name
      description
      schedules { name cronSchedule executionTimezone scheduleState { status } }
      sensors { name minIntervalSeconds sensorState { status } }
    }
    ... on PythonError { message }
  }
  assetNodes(pipeline: $selector) {
    assetKey { path }
    description
    kinds
    isPartitioned
    dependencyKeys { path }
    assetChecksOrError { __typename ... on AssetChecks { checks { name description } } }
  }
}"""

PARTITION_KEYS = """
query EtlPartitionKeys($selector: PipelineSelector!) {
  pipelineOrError(params: $selector) {
    __typename
    ... on Pipeline { partitionKeysOrError { ... on PartitionKeys { partitionKeys } } }
  }
}"""

LAUNCH = """
mutation EtlLaunch($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""

TERMINATE = """
mutation EtlTerminate($runId: String!) {
  terminateRun(runId: $runId) {
    __typename
    ... on TerminateRunFailure { message }
    ... on Error { message }
  }
}"""

RELOAD = """
mutation EtlReload($name: String!) {
  reloadRepositoryLocation(repositoryLocationName: $name) {
    __typename
    ... on WorkspaceLocationEntry {
      loadStatus
      locationOrLoadError { __typename ... on PythonError { message } }
    }
    ... on Error { message }
  }
}"""


class DagsterApiError(Exception):
    """The webserver could not be reached or refused; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 502):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class JobRef:
    """Where a pipeline's job lives in the workspace."""

    name: str
    description: str | None
    location: str
    repository: str

    def selector(self, **extra: Any) -> dict[str, Any]:
        return {"pipelineName": self.name, "repositoryName": self.repository, "repositoryLocationName": self.location, **extra}


class DagsterApi:
    """A GraphQL client of one webserver."""

    def __init__(self, base_url: str, timeout: float = 120):
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def close(self) -> None:
        await self.client.aclose()

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `data` of a GraphQL response; DagsterApiError on transport or GraphQL errors."""
        try:
            response = await self.client.post("/graphql", json={"query": query, "variables": variables or {}})
        except httpx.HTTPError as exc:
            raise DagsterApiError(f"Dagster webserver unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise DagsterApiError(f"Dagster webserver answered HTTP {response.status_code}")
        body = response.json()
        if body.get("errors"):
            raise DagsterApiError("Dagster GraphQL error: " + "; ".join(str(e.get("message")) for e in body["errors"]))
        return body["data"]

    async def jobs(self) -> tuple[list[JobRef], list[str]]:
        """Every pipeline job of the workspace (internal `__` jobs left out), and code location load errors."""
        data = (await self.execute(WORKSPACE))["workspaceOrError"]
        if data["__typename"] != "Workspace":
            raise DagsterApiError(data.get("message", "workspace unavailable"))
        jobs, errors = [], []
        for entry in data["locationEntries"]:
            location = entry.get("locationOrLoadError") or {}
            if location.get("__typename") == "PythonError":
                errors.append(f"code location {entry['name']}: {location['message'].strip()}")
            for repo in location.get("repositories", []):
                jobs += [JobRef(p["name"], p.get("description"), entry["name"], repo["name"]) for p in repo["pipelines"] if not p["name"].startswith("__")]
        return sorted(jobs, key=lambda j: j.name), errors

    async def job(self, name: str) -> JobRef | None:
        return next((j for j in (await self.jobs())[0] if j.name == name), None)

    async def pipeline(self, job: JobRef) -> dict[str, Any]:
        """The job (schedules, sensors) and its asset nodes (checks, dependencies)."""
        data = await self.execute(PIPELINE, {"selector": job.selector()})
        if data["pipelineOrError"]["__typename"] != "Pipeline":
            raise DagsterApiError(data["pipelineOrError"].get("message", "pipeline unavailable"), 404)
        return data

    async def partition_keys(self, job: JobRef) -> list[str]:
        """The job's partition keys, oldest first; [] when it is not partitioned."""
        data = (await self.execute(PARTITION_KEYS, {"selector": job.selector()}))["pipelineOrError"]
        return list((data.get("partitionKeysOrError") or {}).get("partitionKeys") or [])

    async def launch(self, job: JobRef, assets: Sequence[Sequence[str]] | None, tags: dict[str, str]) -> str:
        """Launch a run of the job (optionally some assets only); its run id."""
        selection = {"assetSelection": [{"path": list(a)} for a in assets]} if assets else {}
        params = {
            "selector": job.selector(**selection),
            "runConfigData": {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        }
        result = (await self.execute(LAUNCH, {"params": params}))["launchPipelineExecution"]
        if result["__typename"] == "LaunchRunSuccess":
            return str(result["run"]["runId"])
        message = result.get("message") or "; ".join(e["message"] for e in result.get("errors", [])) or result["__typename"]
        raise DagsterApiError(f"launch refused: {message}", 403 if result["__typename"] == "UnauthorizedError" else 422)

    async def terminate(self, run_id: str) -> None:
        result = (await self.execute(TERMINATE, {"runId": run_id}))["terminateRun"]
        if result["__typename"] == "RunNotFoundError":
            raise DagsterApiError(f"run {run_id} not found", 404)
        if result["__typename"] != "TerminateRunSuccess":
            raise DagsterApiError(result.get("message") or result["__typename"], 409)

    async def reload(self, location: str) -> str | None:
        """Reload a code location; the load error, or None when it loaded."""
        result = (await self.execute(RELOAD, {"name": location}))["reloadRepositoryLocation"]
        if result["__typename"] != "WorkspaceLocationEntry":
            raise DagsterApiError(result.get("message") or result["__typename"])
        loaded = result.get("locationOrLoadError") or {}
        return loaded.get("message") if loaded.get("__typename") == "PythonError" else None
