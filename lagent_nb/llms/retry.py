"""When to retry a failed API request, how long to wait, and the error that ends it all.

The decisions are plain functions over exceptions and counters, shared by the sync and async
clients, which only differ in how they sleep. Every failure counts toward the bound (lagent
retries connection and JSON errors without counting, which can loop forever); only a key
retired for ``insufficient_quota`` is retried for free, and there are finitely many keys.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from typing import Optional

import openai

from lagent_nb.llms.credentials import AllKeysRetired, KeyRing


class LLMAPIError(RuntimeError):
    """A request to an LLM endpoint failed for good.

    The message names the endpoint, the number of attempts and the last cause, with a hint on
    what to do; it never contains an API key.
    """

    def __init__(self, url: str, attempts: int, cause: str, hint: str = ""):
        self.url, self.attempts, self.cause = url, attempts, cause
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        message = f"POST {url} failed after {tries}; last error: {cause}"
        super().__init__(f"{message}. {hint}" if hint else message)


class IncompleteStream(Exception):
    """A streamed answer ended without a finish reason: the connection was cut mid-way."""


@dataclass(frozen=True)
class Failure:
    """What went wrong with one attempt, as far as retrying is concerned."""

    cause: str
    retryable: bool
    retry_after: Optional[float] = None  # the server's Retry-After, in seconds
    quota: bool = False  # the key is out of quota: retire it and try the next one
    hint: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries at most; between them ``base * 2**n`` seconds capped at ``max_wait``.

    A Retry-After longer than ``max_wait`` is not waited for: the request fails at once, so a
    notebook cell never sits silent for minutes.
    """

    attempts: int = 2
    base: float = 0.5
    max_wait: float = 30.0

    def wait(self, failures: int, retry_after: Optional[float]) -> Optional[float]:
        """Seconds to sleep before the next try, or None when the server asked for too long."""
        if retry_after is not None:
            return retry_after if retry_after <= self.max_wait else None
        return min(self.max_wait, self.base * 2 ** (failures - 1))


def parse_retry_after(headers) -> Optional[float]:
    """Seconds from ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _error_code(error: openai.APIStatusError) -> Optional[str]:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("code"):
            return str(inner["code"])
    return getattr(error, "code", None)


def _status_message(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return error.message


def classify(error: BaseException, *, timeout: float) -> Optional[Failure]:
    """Describe a failed attempt; None for errors that are bugs, not transport trouble."""
    if isinstance(error, openai.APIStatusError):
        status, code = error.status_code, _error_code(error)
        cause = f"HTTP {status}: {_status_message(error)}"
        retry_after = parse_retry_after(error.response.headers)
        if status == 429 and code == "insufficient_quota":
            return Failure(cause, retryable=False, quota=True)
        if status in (408, 409, 429) or status >= 500:
            return Failure(cause, retryable=True, retry_after=retry_after)
        if status in (401, 403):
            hint = "Check the API key (key= or $OPENAI_API_KEY) and the organisation."
            return Failure(cause, retryable=False, hint=hint)
        if status == 404:
            hint = "Check api_base (it should end in /v1) and the model name."
            return Failure(cause, retryable=False, hint=hint)
        return Failure(cause, retryable=False)
    if isinstance(error, openai.APITimeoutError):
        hint = "If the model is just slow (a large prompt on a CPU), raise timeout=."
        return Failure(f"no answer within {timeout:g} s (read timeout)", retryable=True, hint=hint)
    if isinstance(error, openai.APIConnectionError):
        detail = error.__cause__ or error
        cause = f"connection failed ({type(detail).__name__}: {detail})"
        hint = "Is the server running and reachable at this address?"
        return Failure(cause, retryable=True, hint=hint)
    if isinstance(error, IncompleteStream):
        return Failure(f"stream cut mid-way ({error})", retryable=True)
    if isinstance(error, (ValueError, openai.APIResponseValidationError)):
        return Failure(f"malformed response ({type(error).__name__}: {error})", retryable=True)
    return None


class RetryState:
    """The bookkeeping of one logical request across its attempts.

    ``next_key()`` before each attempt; ``after_failure(error, key)`` after a failed one
    returns the seconds to wait, or raises the final ``LLMAPIError`` (or re-raises a bug).
    """

    def __init__(self, url: str, keys: KeyRing, policy: RetryPolicy, *, timeout: float):
        self.url, self.keys, self.policy, self.timeout = url, keys, policy, timeout
        self.failures = 0
        self.tries = 0
        self.last_cause = ""

    def next_key(self) -> str:
        try:
            key = self.keys.next()
        except AllKeysRetired as error:
            raise LLMAPIError(
                self.url, self.tries, str(error), "Add a key with quota left."
            ) from None
        self.tries += 1
        return key

    def after_failure(self, error: BaseException, key: str, *, partial: bool = False) -> float:
        failure = classify(error, timeout=self.timeout)
        if failure is None:
            raise error
        cause = self.last_cause = self.keys.redact(failure.cause)
        hint = failure.hint
        if "API key" in hint and not self.keys.configured:
            hint = "No API key was given: pass key=... or set $OPENAI_API_KEY."
        if failure.quota:
            self.keys.retire(key)
            return 0.0
        self.failures += 1
        if partial:
            hint = "Part of the answer was already streamed, so it was not retried."
            raise LLMAPIError(self.url, self.tries, cause, hint) from None
        if not failure.retryable or self.failures >= self.policy.attempts:
            raise LLMAPIError(self.url, self.tries, cause, hint) from None
        wait = self.policy.wait(self.failures, failure.retry_after)
        if wait is None:
            hint = f"The server asked to retry after {failure.retry_after:g} s; try again later."
            raise LLMAPIError(self.url, self.tries, cause, hint) from None
        return wait
