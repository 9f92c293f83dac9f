"""Microsoft's Graph SDK for Python (msgraph-sdk) against a Vigil gateway, unchanged but for the
base URL: a filtered list with $top and $count, get by id, the whole nextLink walk (no repeats,
as many alerts as @odata.count said), $count, a PATCH read back, identity protection reads and
the dismiss action, and a 404 surfacing as the SDK's ODataError.
Exits non-zero on any failure. Run by scripts/sdk-check.sh.
Usage: python python_sdk_smoke.py BASE_URL TOKEN"""
import asyncio, sys, warnings
warnings.simplefilter("ignore", DeprecationWarning)
from kiota_abstractions.authentication import AccessTokenProvider, AllowedHostsValidator, BaseBearerTokenAuthenticationProvider
from msgraph import GraphServiceClient, GraphRequestAdapter
from msgraph.generated.security.alerts.alerts_request_builder import AlertsRequestBuilder
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.alert import Alert
from msgraph.generated.models.alert_status import AlertStatus
from msgraph.generated.models.security_vendor_information import SecurityVendorInformation
from msgraph.generated.models.risk_state import RiskState
from msgraph.generated.identity_protection.risky_users.dismiss.dismiss_post_request_body import DismissPostRequestBody
import time

class StaticToken(AccessTokenProvider):
    def __init__(self, token): self.token = token
    async def get_authorization_token(self, uri, additional_authentication_context=None): return self.token
    def get_allowed_hosts_validator(self): return AllowedHostsValidator([])

async def main(base, token):
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(StaticToken(token)))
    adapter.base_url = base + "/v1.0"
    client = GraphServiceClient(request_adapter=adapter)
    q = AlertsRequestBuilder.AlertsRequestBuilderGetQueryParameters(top=3, filter="severity eq 'high'", count=True)
    page = await client.security.alerts.get(RequestConfiguration(query_parameters=q))
    print("page1", len(page.value), "count", page.odata_count, "next", bool(page.odata_next_link))
    a = page.value[0]
    print("alert", a.id, a.title, a.severity, a.status, a.created_date_time, a.vendor_information.vendor,
          len(a.host_states), [h.is_azure_ad_joined for h in a.host_states][:2])
    got = await client.security.alerts.by_alert_id(a.id).get()
    print("get", got.id == a.id, got.title)
    assert got.id == a.id
    pages = 0; ids = set()
    resp = page
    while True:
        pages += 1
        for x in resp.value:
            assert x.id not in ids, x.id
            ids.add(x.id)
        if not resp.odata_next_link: break
        resp = await client.security.alerts.with_url(resp.odata_next_link).get()
    print("walked", pages, "pages", len(ids), "alerts; @odata.count was", page.odata_count)
    assert len(ids) == page.odata_count, "walk and @odata.count disagree"
    n = await client.security.alerts.count.get()
    print("$count", n)
    assert isinstance(n, int) and n >= len(ids)
    assignee = f"py-sdk-{int(time.time() * 1000)}@contoso.com"
    vi = SecurityVendorInformation(provider=got.vendor_information.provider, vendor=got.vendor_information.vendor)
    await client.security.alerts.by_alert_id(a.id).patch(
        Alert(assigned_to=assignee, status=AlertStatus.InProgress, vendor_information=vi))
    after = await client.security.alerts.by_alert_id(a.id).get()
    print("patched", after.id, after.assigned_to, after.status)
    assert after.assigned_to == assignee and after.status == AlertStatus.InProgress
    users = await client.identity_protection.risky_users.get()
    detections = await client.identity_protection.risk_detections.get()
    print("riskyUsers", len(users.value), "riskDetections", len(detections.value))
    assert users.value and detections.value
    target = users.value[0].id
    await client.identity_protection.risky_users.dismiss.post(DismissPostRequestBody(user_ids=[target]))
    dismissed = await client.identity_protection.risky_users.by_risky_user_id(target).get()
    print("dismissed", target, dismissed.risk_state)
    assert dismissed.risk_state == RiskState.Dismissed
    try:
        await client.security.alerts.by_alert_id("does-not-exist").get()
        raise AssertionError("unknown id did not fail")
    except Exception as e:
        code = getattr(getattr(e, "error", None), "code", None)
        print("404 ->", type(e).__name__, code)
        assert type(e).__name__ == "ODataError" and code == "NotFound", e
    print("python SDK: ok")

asyncio.run(main(sys.argv[1], sys.argv[2]))
