"""The router's delivery guarantees (order, retries, holding back, dead letters, replays,
filters, isolation, forgetting, batch outcomes, fencing) proven again with the PostgreSQL store.

The tests are the router suite's own, collected here once more; this folder's ``conftest``
hands them a PostgreSQL store where they ask for ``store`` or ``sqlite_store``.
"""

from router.test_batch_outcomes import (
    test_checks_stay_within_their_budget,
    test_failed_jobs_are_dead_lettered_or_retried_with_custifys_reason,
)
from router.test_delivery import (
    test_a_down_destination_does_not_slow_another,
    test_a_failing_user_holds_back_only_their_own_events,
    test_a_forgotten_users_logged_events_are_not_delivered,
    test_client_errors_are_dead_lettered_at_once_with_evidence_and_can_be_replayed,
    test_delivers_every_event_in_order_per_user,
    test_filters_count_what_they_drop_with_the_reason,
    test_flaky_receiver_loses_nothing_and_keeps_order,
    test_retries_give_up_after_attempts_and_age,
)
from router.test_fencing import test_a_worker_whose_lease_was_taken_over_stops_without_recording

__all__ = [
    "test_a_down_destination_does_not_slow_another",
    "test_a_failing_user_holds_back_only_their_own_events",
    "test_a_forgotten_users_logged_events_are_not_delivered",
    "test_a_worker_whose_lease_was_taken_over_stops_without_recording",
    "test_checks_stay_within_their_budget",
    "test_client_errors_are_dead_lettered_at_once_with_evidence_and_can_be_replayed",
    "test_delivers_every_event_in_order_per_user",
    "test_failed_jobs_are_dead_lettered_or_retried_with_custifys_reason",
    "test_filters_count_what_they_drop_with_the_reason",
    "test_flaky_receiver_loses_nothing_and_keeps_order",
    "test_retries_give_up_after_attempts_and_age",
]
