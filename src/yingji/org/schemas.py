"""Shapes of organisation data at the API boundary."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from yingji.core.security import Role

DivisionLevel = Literal["province", "city", "county", "town", "village"]
UnitKind = Literal["department", "town", "village", "rescue_team"]

ADCODE_PATTERN = r"^\d{6}(\d{3}(\d{3})?)?$"
USERNAME_PATTERN = r"^[A-Za-z0-9_.\-]+$"
USERNAME_MAX_LENGTH = 64
# What sign-in accepts as a name: anything an account may have, bounded, no control characters
SIGN_IN_NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"
PASSWORD_MAX_LENGTH = 200
POLICY_DESCRIPTION = (
    "at least 10 characters, of two kinds or more (letters, digits, symbols), not containing "
    "the user name, not a common password; refused with weak_password and details.reasons"
)
PHONE_PATTERN = r"^[0-9+\-() ]{3,40}$"


class ORMModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class DivisionCreate(BaseModel):
    adcode: str = Field(pattern=ADCODE_PATTERN, description="GB/T 2260 (6 digits) or 12-digit code")
    name: str = Field(min_length=1, max_length=100)
    level: DivisionLevel
    parent_adcode: str | None = Field(default=None, pattern=ADCODE_PATTERN)
    boundary: dict[str, Any] | None = Field(
        default=None, description="GeoJSON Polygon or MultiPolygon, WGS-84"
    )
    centroid_lon: float | None = Field(default=None, ge=-180, le=180)
    centroid_lat: float | None = Field(default=None, ge=-90, le=90)


class DivisionUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    boundary: dict[str, Any] | None = None
    centroid_lon: float | None = Field(default=None, ge=-180, le=180)
    centroid_lat: float | None = Field(default=None, ge=-90, le=90)


class DivisionRead(ORMModel):
    adcode: str
    name: str
    level: str
    parent_adcode: str | None
    path: str
    centroid_lon: float | None
    centroid_lat: float | None


class DivisionDetail(DivisionRead):
    boundary: dict[str, Any] | None


class DivisionPage(BaseModel):
    items: list[DivisionRead]
    total: int


class UnitCreate(BaseModel):
    code: str = Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_\-]+$")
    name: str = Field(min_length=1, max_length=200)
    kind: UnitKind
    tier: int = Field(ge=1, le=3, description="linkage tier of seed 001 (1, 2 or 3)")
    division_adcode: str = Field(pattern=ADCODE_PATTERN)
    parent_code: str | None = None
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    address: str | None = Field(default=None, max_length=300)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)


class UnitUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: UnitKind | None = None
    tier: int | None = Field(default=None, ge=1, le=3)
    division_adcode: str | None = Field(default=None, pattern=ADCODE_PATTERN)
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    address: str | None = Field(default=None, max_length=300)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    active: bool | None = None


class UnitRead(ORMModel):
    id: uuid.UUID
    code: str
    name: str
    kind: str
    tier: int
    division_adcode: str
    parent_id: uuid.UUID | None
    phone: str | None
    address: str | None
    lon: float | None
    lat: float | None
    active: bool


class UnitPage(BaseModel):
    items: list[UnitRead]
    total: int


class PersonCreate(BaseModel):
    unit_id: uuid.UUID
    name: str = Field(min_length=1, max_length=100)
    position: str | None = Field(default=None, max_length=100)
    mobile: str | None = Field(default=None, pattern=PHONE_PATTERN)
    office_phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    is_leader: bool = False


class PersonUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    position: str | None = Field(default=None, max_length=100)
    mobile: str | None = Field(default=None, pattern=PHONE_PATTERN)
    office_phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    is_leader: bool | None = None


class PersonRead(ORMModel):
    id: uuid.UUID
    unit_id: uuid.UUID
    name: str
    position: str | None
    mobile: str | None
    office_phone: str | None
    is_leader: bool


class PersonPage(BaseModel):
    items: list[PersonRead]
    total: int


class UserCreate(BaseModel):
    username: str = Field(
        min_length=2,
        max_length=USERNAME_MAX_LENGTH,
        pattern=USERNAME_PATTERN,
        description="unique regardless of case",
    )
    display_name: str | None = Field(default=None, max_length=100)
    password: str = Field(
        min_length=1, max_length=PASSWORD_MAX_LENGTH, description=POLICY_DESCRIPTION
    )
    roles: list[Role] = Field(min_length=1)
    division_adcode: str | None = Field(default=None, pattern=ADCODE_PATTERN)
    unit_code: str | None = None

    @field_validator("roles")
    @classmethod
    def _unique(cls, roles: list[Role]) -> list[Role]:
        return sorted(set(roles))


class UserUpdate(BaseModel):
    display_name: str | None = Field(default=None, max_length=100)
    password: str | None = Field(
        default=None,
        min_length=1,
        max_length=PASSWORD_MAX_LENGTH,
        description=POLICY_DESCRIPTION + "; ends the account's sessions and tokens",
    )
    roles: list[Role] | None = Field(default=None, min_length=1)
    division_adcode: str | None = Field(default=None, pattern=ADCODE_PATTERN)
    unit_code: str | None = None
    active: bool | None = None


class UserRead(ORMModel):
    id: uuid.UUID
    username: str
    display_name: str
    roles: list[str]
    division_adcode: str | None
    unit_id: uuid.UUID | None
    active: bool
    last_login_at: datetime | None


class UserPage(BaseModel):
    items: list[UserRead]
    total: int


class ScopeRead(BaseModel):
    everything: bool
    division_path: str | None
    unit_id: uuid.UUID | None


class Me(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    roles: list[str]
    permissions: list[str]
    scope: ScopeRead
    unit_id: uuid.UUID | None
    csrf_token: str | None = None


class LoginRequest(BaseModel):
    username: str = Field(
        min_length=1, max_length=USERNAME_MAX_LENGTH, pattern=SIGN_IN_NAME_PATTERN
    )
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)


class LoginResponse(BaseModel):
    user: Me
    csrf_token: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, no secret
    expires_in: int


class ImportProblem(BaseModel):
    line: int
    field: str | None
    message: str = Field(description="in English, for logs; screens word `code` and `params`")
    code: str = Field(
        default="invalid",
        description="what is wrong, e.g. `required`, `repeats` or a domain error's code",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="the values the words need (a limit, a line)"
    )


class ImportReport(BaseModel):
    created: int
    updated: int
    errors: list[ImportProblem]
