"""The broker adapter's HTTP session reads the environment (proxies, CA bundle) once, when it is made, as requests
would on each call: the same settings, without the per-call lookups (and never ~/.netrc)."""

from order_gateway.broker import Broker


def sessions(monkeypatch, **env):
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    broker = Broker("k", "s", "http://127.0.0.1:9", paper=True, requests_per_min=100, data_url="http://10.0.0.9:9")
    try:
        return broker._client._session, broker._data._session
    finally:
        broker.close()


def test_session_when_a_proxy_is_set_then_each_host_gets_it_unless_no_proxy_names_it(monkeypatch):
    trading, data = sessions(monkeypatch, HTTP_PROXY="http://proxy:3128", NO_PROXY="127.0.0.1")

    assert dict(trading.proxies) == {}
    assert data.proxies["http"] == "http://proxy:3128"


def test_session_when_a_ca_bundle_is_set_then_it_verifies_with_it_and_reads_the_environment_no_more(monkeypatch):
    trading, _ = sessions(monkeypatch, REQUESTS_CA_BUNDLE="/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("HTTP_PROXY", "http://later:3128")  # after start: not seen

    assert trading.verify == "/etc/ssl/certs/ca-certificates.crt"
    assert trading.trust_env is False
    assert trading.merge_environment_settings("http://127.0.0.1:9", {}, None, None, None)["proxies"] == {}
