"""Bug (e): the API key is put into an error message."""

from __future__ import annotations

from kit_acme.connector import AcmeBase, acme_spec
from kit_acme.sandbox import AcmeSandbox

from syncline.sdk import Problem, connector


@connector(acme_spec("broken-secret", "Broken: leaks the key"))
class BrokenSecret(AcmeBase):
    async def check(self) -> list[Problem]:
        settings = await self.env.settings.load()
        response = await self.env.http.request(
            "GET", f"{settings.base_url}/v1/me", headers=self._auth(settings), accept=(401,)
        )
        if response.status_code == 401:
            key = settings.api_key.get_secret_value()
            return [Problem(f"Acme refused the API key {key}", field="api_key")]  # the bug
        return []


class BrokenSecretSandbox(AcmeSandbox):
    code = "broken-secret"
