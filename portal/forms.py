"""Reading the participants' two forms, the same for a new item and for its edit: the
Official Submission Form of the OCP and a prize contest's project form.

Each reader is a FastAPI dependency that gathers the form's fields as sent (the address is
always the signed-in participant's own, never typed); ``validated`` checks them against
intake's model and names the fields that are wrong, for the page to mark.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Form
from pydantic import BaseModel, ValidationError

from portal.deps import Me

Text = Annotated[str, Form()]
M = TypeVar("M", bound=BaseModel)


def ocp_fields(
    me: Me,
    full_name: Text = "",
    organization: Text = "",
    country: Text = "",
    telephone: Text = "",
    stakeholder_type: Text = "",
    proposal: Text = "",
) -> dict[str, Any]:
    """The Official Submission Form as sent (an optional field left blank is None)."""
    return {
        "full_name": full_name,
        "email": me.email,
        "organization": organization,
        "country": country,
        "telephone": telephone or None,
        "stakeholder_type": stakeholder_type or None,
        "language": me.language,
        "proposal": proposal,
    }


def project_fields(
    me: Me,
    category: Text = "",
    title: Text = "",
    description: Text = "",
    organization: Text = "",
    stakeholder_type: Text = "",
    country: Text = "",
) -> dict[str, Any]:
    """A project form as sent."""
    return {
        "owner_email": me.email,
        "category": category,
        "title": title,
        "description": description,
        "organization": organization,
        "stakeholder_type": stakeholder_type,
        "country": country,
    }


OcpFields = Annotated[dict[str, Any], Depends(ocp_fields)]
ProjectFields = Annotated[dict[str, Any], Depends(project_fields)]


def validated(model: type[M], fields: dict[str, Any]) -> tuple[M | None, list[str]]:
    """``fields`` as ``model`` (intake's form), or None and the names of the wrong fields."""
    try:
        return model.model_validate(fields), []
    except ValidationError as exc:
        return None, sorted({str(e["loc"][0]) for e in exc.errors()})
