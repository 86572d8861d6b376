"""Associations: inline on create (v3) and the v4 batch read/create/default routes, via the SDK.

Sources: facts §2 (SDK calls, AssociationType constants), v4 batch read limit changelog
[DOC: https://developers.hubspot.com/changelog/bug-fix-batch-read-limit-for-hubspot-associations-api].
"""

from __future__ import annotations

import pytest
from hubspot.crm.associations.v4 import (
    ApiException as AssocApiException,
)
from hubspot.crm.associations.v4 import (
    AssociationSpec as V4Spec,
)
from hubspot.crm.associations.v4 import (
    BatchInputPublicAssociationMultiPost,
    BatchInputPublicDefaultAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicAssociationMultiPost,
    PublicDefaultAssociationMultiPost,
    PublicFetchAssociationsBatchRequest,
    PublicObjectId,
)
from hubspot.crm.objects.tasks import (
    ApiException,
    AssociationSpec,
    PublicAssociationsForObject,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.objects.tasks import PublicObjectId as TaskTarget

from tests.sandbox.hubspot_fixtures import error_json

DUE = "2025-03-20T09:00:00Z"


def _link(to_id: str, type_id: int) -> PublicAssociationsForObject:
    return PublicAssociationsForObject(to=TaskTarget(id=to_id), types=[
        AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=type_id)])


def _task_with_links(hs, *links):
    return hs.client.crm.objects.tasks.basic_api.create(simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
        properties={"hs_timestamp": DUE}, associations=list(links)))


def _read(hs, from_type, to_type, ids):
    body = BatchInputPublicFetchAssociationsBatchRequest(inputs=[PublicFetchAssociationsBatchRequest(id=i) for i in ids])
    return hs.client.crm.associations.v4.batch_api.get_page(from_object_type=from_type, to_object_type=to_type,
                                                            batch_input_public_fetch_associations_batch_request=body)


def test_given_inline_associations_on_task_create_then_linked_both_ways(hs):
    # facts §2: TASK_TO_DEAL 216, TASK_TO_COMPANY 192, TASK_TO_CONTACT 204
    deal, company, contact = hs.deal_id(0), hs.sb.demo_ids["companies"][0], hs.sb.demo_ids["contacts"][0]
    task = _task_with_links(hs, _link(deal, 216), _link(company, 192), _link(contact, 204))
    assert hs.sb.associated_ids("tasks", task.id, "deals") == [deal]
    assert hs.sb.associated_ids("tasks", task.id, "companies") == [company]
    assert hs.sb.associated_ids("tasks", task.id, "contacts") == [contact]
    assert task.id in hs.sb.associated_ids("deals", deal, "tasks")
    assert hs.sb.associated_ids("deals", deal, "tasks", with_types=True)[task.id] == [("HUBSPOT_DEFINED", 215)]


def test_given_inline_association_to_missing_deal_then_400_and_no_task(hs):
    # strict reading: an association target must exist, else the create fails
    with pytest.raises(ApiException) as caught:
        _task_with_links(hs, _link("999999", 216))
    assert caught.value.status == 400 and hs.sb.records("tasks") == []


def test_given_wrong_type_id_for_pair_then_400(hs):
    # facts §2 constants: 3 is DEAL_TO_CONTACT, not valid from a task
    with pytest.raises(ApiException) as caught:
        _task_with_links(hs, _link(hs.deal_id(0), 3))
    assert "association type" in error_json(caught.value)["message"]


def test_given_v4_batch_read_then_sdk_shape_with_role_labels(hs):
    # brief: results {from:{id}, to:[{toObjectId, associationTypes:[{category,typeId,label}]}]}
    reply = _read(hs, "deals", "contacts", [hs.deal_id(0)])
    result = reply.results[0]
    assert result._from.id == hs.deal_id(0) and len(result.to) == 2
    labels = {t.label for target in result.to for t in target.association_types}
    assert {None, "Primary Contact"} <= labels and labels & {"Decision Maker", "Economic Buyer", "Technical Buyer",
                                                                "Evaluator", "Business User"}
    assert all(isinstance(target.to_object_id, str) for target in result.to)


def test_given_deal_without_contacts_then_207_error_for_that_input(hs):
    # [UNVERIFIED shape] an id without associations is reported per input
    lonely = hs.deal_id(18)
    reply = _read(hs, "deals", "contacts", [hs.deal_id(0), lonely])
    assert [r._from.id for r in reply.results] == [hs.deal_id(0)]
    assert reply.errors[0].context["fromObjectId"] == [lonely]


def test_given_more_than_1000_ids_then_400(hs):
    # changelog: "may not exceed 1000 IDs per request body"
    with pytest.raises(AssocApiException) as caught:
        _read(hs, "deals", "companies", [str(n) for n in range(1001)])
    assert caught.value.status == 400


def test_given_1000_ids_then_accepted(hs):
    # changelog: 1000 is allowed
    reply = _read(hs, "deals", "companies", [hs.deal_id(0)] * 1000)
    assert reply.results and reply.results[0].to[0].to_object_id == hs.sb.demo_ids["companies"][0]


def test_given_v4_batch_create_then_201_labels_between_pair(hs):
    # facts §2: v4 batch create 201/207 (SDK returns None on any other status)
    task = _task_with_links(hs)
    body = BatchInputPublicAssociationMultiPost(inputs=[PublicAssociationMultiPost(
        _from=PublicObjectId(id=task.id), to=PublicObjectId(id=hs.deal_id(1)),
        types=[V4Spec(association_category="HUBSPOT_DEFINED", association_type_id=216)])])
    reply = hs.client.crm.associations.v4.batch_api.create(
        from_object_type="tasks", to_object_type="deals", batch_input_public_association_multi_post=body)
    assert reply is not None and reply.results[0].to_object_id == hs.deal_id(1)
    assert reply.results[0].from_object_type_id == "0-27"
    assert hs.sb.associated_ids("tasks", task.id, "deals") == [hs.deal_id(1)]


def test_given_v4_default_associate_then_200_with_default_type(hs):
    # facts §2: assoc default -> 200
    task = _task_with_links(hs)
    body = BatchInputPublicDefaultAssociationMultiPost(inputs=[PublicDefaultAssociationMultiPost(
        _from=PublicObjectId(id=task.id), to=PublicObjectId(id=hs.sb.demo_ids["contacts"][3]))])
    reply = hs.client.crm.associations.v4.batch_api.create_default(
        from_object_type="tasks", to_object_type="contacts", batch_input_public_default_association_multi_post=body)
    assert reply.results[0].association_spec.association_type_id == 204


def test_given_rejected_deal_then_task_linking_to_it_refused(hs):
    # brief: a test knob to reject a given record id
    hs.sb.reject("deals", hs.deal_id(2), "deal is locked")
    with pytest.raises(ApiException) as caught:
        _task_with_links(hs, _link(hs.deal_id(2), 216))
    assert error_json(caught.value)["message"] == "deal is locked"
