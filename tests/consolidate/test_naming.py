from collections import Counter

from trace2skill.consolidate.naming import Vocabulary, name_problem, reference_name

LESSONS = Vocabulary(["Kenshi Tanaka asked to move reservation K7WQ2M; confirm the booking change before you act.", "Confirm booking changes with the user."])


def test_generic_topics_pass():
    for topic in ("booking changes", "confirmation", "input validation", "API errors"):
        assert name_problem(topic, LESSONS) is None, topic


def test_instance_text_is_not_a_topic():
    assert "digits" in name_problem("k7wq2m", LESSONS)
    assert "file type" in name_problem("skill md", LESSONS)
    assert "proper name" in name_problem("kenshi tanaka", LESSONS)  # lower-cased by the topic field, capitalised in the lessons
    assert "no vowel" in name_problem("qzxw", LESSONS)
    assert "sentence" in name_problem("when the user asks to move the reservation to another day", LESSONS)
    assert "function words" in name_problem("May", LESSONS) and "function words" in name_problem("there", LESSONS)


def test_a_refused_label_gives_way_to_the_next_topic_and_the_reasons_are_kept():
    name = reference_name("kenshi tanaka", Counter({"kenshi tanaka": 3, "booking changes": 2}), ["Kenshi Tanaka wants to rebook"], LESSONS)
    assert name.topic == "booking changes"
    assert name.when == "a task involves booking changes."
    assert "proper name" in name.refused[0] and "'Read it when' line" in name.refused[1]


def test_a_label_with_no_topic_left_falls_back_to_its_generic_words():
    assert reference_name("k7wq2m rebooking", Counter(), [], LESSONS).topic == "rebooking"
    assert reference_name("k7wq2m", Counter(), [], LESSONS).topic == "notes"
    assert reference_name("may 2024", Counter(), [], LESSONS).topic == "notes"  # a month of one run, and a stop word


def test_a_generic_description_is_the_read_when_line():
    name = reference_name("booking changes", Counter(), ["When a user asks to change a booking."], LESSONS)
    assert (name.topic, name.when, name.refused) == ("booking changes", "a user asks to change a booking.", [])
