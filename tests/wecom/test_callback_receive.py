"""/wecom/callback/: verify, store once, answer at once; refuse and log anything unverifiable."""

import pytest

from wecom.models import CallbackEvent, CallbackRejection

VECTOR = {"WECOM_TOKEN": "QDG6eK", "WECOM_AES_KEY": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
          "WECOM_CORP_ID": "wx5823bf96d3bd56c7"}


def test_url_verification_with_the_official_vector(client, settings, db):
    for name, value in VECTOR.items():
        setattr(settings, name, value)
    response = client.get(
        "/wecom/callback/", {"msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "timestamp": "1409659589",
                             "nonce": "263014780",
                             "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="},
        HTTP_HOST="localhost")
    assert response.status_code == 200
    assert response.content == b"1616140317555161061"


def test_url_verification_with_a_bad_signature_is_refused_and_logged(client, settings, db):
    for name, value in VECTOR.items():
        setattr(settings, name, value)
    response = client.get("/wecom/callback/", {"msg_signature": "0" * 40, "timestamp": "1409659589",
                                               "nonce": "263014780", "echostr": "abc"}, HTTP_HOST="localhost")
    assert response.status_code == 403
    assert CallbackRejection.objects.get().reason == "bad_signature"


def test_event_is_stored_once_however_often_wecom_retries(post_event, db, django_capture_on_commit_callbacks):
    fields = dict(Event="change_external_contact", ChangeType="del_follow_user", UserID="nobody",
                  ExternalUserID="wmX", CreateTime="1700000000")
    with django_capture_on_commit_callbacks() as callbacks:
        responses = [post_event(**fields) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    event = CallbackEvent.objects.get()
    assert event.receive_count == 3
    assert event.dedup_key == "change_external_contact|del_follow_user|nobody|wmX|1700000000||"
    assert len(callbacks) == 1  # processing enqueued once


@pytest.mark.parametrize(("kwargs", "reason", "status"), [
    ({"tamper": True}, "bad_signature", 403),
    ({"corp_id": "wwSomebodyElse"}, "wrong_corp", 403),
])
def test_unverifiable_events_are_refused_stored_nowhere_and_logged(post_event, db, kwargs, reason, status):
    response = post_event(Event="change_external_contact", ChangeType="add_external_contact", UserID="u",
                          ExternalUserID="wm1", **kwargs)
    assert response.status_code == status
    assert CallbackEvent.objects.count() == 0
    assert CallbackRejection.objects.get().reason == reason


def test_malformed_xml_is_400(client, db):
    response = client.post("/wecom/callback/?msg_signature=a&timestamp=1&nonce=2", data=b"<xml><oops",
                           content_type="text/xml", HTTP_HOST="localhost")
    assert response.status_code == 400
    assert CallbackRejection.objects.get().reason == "malformed"
    assert CallbackEvent.objects.count() == 0


def test_event_is_stored_even_when_redis_is_down(post_event, db, django_capture_on_commit_callbacks):
    from tests.live import celery_broker

    with celery_broker("redis://127.0.0.1:1/0"), django_capture_on_commit_callbacks(execute=True):
        response = post_event(Event="change_external_contact", ChangeType="del_follow_user", UserID="g",
                              ExternalUserID="wmR")
    assert response.status_code == 200
    assert CallbackEvent.objects.get().status == "pending"  # the sweeper will take it
