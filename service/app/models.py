"""Response models: the article's `CompaniesSchema`, with pydantic v2 optional defaults."""

from typing import Any, Literal

from pydantic import BaseModel


class CompaniesSchema(BaseModel):
    name: str | None = None
    permalink: str | None = None
    crunchbase_url: str | None = None
    homepage_url: str | None = None
    blog_url: str | None = None
    blog_feed_url: str | None = None
    twitter_username: str | None = None
    category_code: str | None = None
    number_of_employees: int | None = None
    founded_year: int | None = None
    founded_month: int | None = None
    founded_day: int | None = None
    deadpooled_year: int | None = None
    tag_list: str | None = None
    alias_list: str | None = None
    email_address: str | None = None
    phone_number: str | None = None
    description: str | None = None
    created_at: Any = None
    overview: str | None = None


class Health(BaseModel):
    status: Literal["ok"]
    database: str
    client_lifecycle: str


class Problem(BaseModel):
    status: Literal["unavailable"]
    reason: str


class Stats(BaseModel):
    records_source: str
    busy_loops: int
    requests: int
    busy_sampled_calls: int
    busy_sampled_ns: int
