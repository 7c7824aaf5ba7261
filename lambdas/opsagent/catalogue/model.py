"""The shape of a catalogue entry: one tool's whole contract, as plain data (pydantic, no Lambda,
Powertools or boto3 imports, so the CLI, infra and generators can read it cheaply)."""

from __future__ import annotations

import importlib
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ParamType = Literal["string", "integer", "boolean"]
Location = Literal["path", "query", "body"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")


class Param(BaseModel):
    """One argument of a tool. Bedrock passes every value as a string; MCP and Converse pass JSON
    values of ``type``. The bounds are checked in code (pydantic) on both paths."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    location: Location
    type: ParamType = "string"
    description: str = ""
    required: bool = False
    default: Any = None
    nullable: bool = Field(default=False, description="Optional and absent means None (not a default)")
    minimum: int | None = None
    maximum: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    alias_of: str | None = Field(
        default=None, description="Python parameter name in the resolver when it differs from ``name``"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Param:
        if self.location == "path" and not self.required:
            raise ValueError(f"path parameter {self.name} must be required")
        if self.required and self.default is not None:
            raise ValueError(f"required parameter {self.name} cannot have a default")
        return self

    def json_schema(self) -> dict[str, Any]:
        """This parameter as JSON Schema in the Gateway/Converse subset (type, description; the
        bounds go into the description, where every front door shows them to the model)."""
        return {"type": self.type, "description": self.description or self.name}


class Tool(BaseModel):
    """One operation: what the model reads (name, description, parameters), how it is routed
    (group, method, path) and how it behaves (read or mutation, confirmation, response model)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="operationId / MCP tool name / Converse tool name, e.g. listPods")
    group: str = Field(description="Action group = Lambda = Gateway target, e.g. pods")
    method: Literal["GET", "POST"]
    path: str = Field(description="Bedrock apiPath template, e.g. /namespaces/{namespace}/pods")
    description: str
    params: tuple[Param, ...] = ()
    mutation: bool = False
    confirmation: bool = Field(default=False, description="x-requireConfirmation / CLI prompt")
    response_model: str = Field(description="module:Class of the 200 body, e.g. opsagent.pods.models:PodList")

    @model_validator(mode="after")
    def _consistent(self) -> Tool:
        if not _NAME.match(self.name):
            raise ValueError(f"tool name {self.name!r} must be letters and digits")
        names = [p.name for p in self.params]
        if len(names) != len(set(names)):
            raise ValueError(f"{self.name}: duplicate parameter names")
        in_path = set(re.findall(r"\{(\w+)\}", self.path))
        declared = {p.name for p in self.params if p.location == "path"}
        if in_path != declared:
            raise ValueError(f"{self.name}: path {self.path} vs path parameters {sorted(declared)}")
        if any(p.location == "body" for p in self.params) and self.method == "GET":
            raise ValueError(f"{self.name}: GET cannot have a request body")
        if self.confirmation and not self.mutation:
            raise ValueError(f"{self.name}: only a mutation needs confirmation")
        return self

    # ------------------------------------------------------------------ views
    @property
    def rule(self) -> str:
        """The route in Powertools' syntax: /namespaces/<namespace>/pods."""
        return re.sub(r"\{(\w+)\}", r"<\1>", self.path)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"{self.name} has no parameter {name!r}")

    def params_in(self, location: Location) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.location == location)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.required)

    def input_schema(self) -> dict[str, Any]:
        """All arguments as one flat JSON object schema (MCP ``inputSchema``, Converse ``json``)."""
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {p.name: p.json_schema() for p in self.params},
        }
        if self.required:
            schema["required"] = list(self.required)
        return schema

    def response_class(self) -> type[BaseModel]:
        module, _, cls = self.response_model.partition(":")
        return getattr(importlib.import_module(module), cls)
