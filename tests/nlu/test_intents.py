"""Intent rules on speech-to-text-like input."""

import pytest

from nlu import intents


@pytest.mark.parametrize(
    "text, reason",
    [
        ("I want to talk to a real person please.", "person"),
        ("um is there like a human i can talk to it's kind of complicated", "person"),
        ("representative representative agent", "person"),
        ("operator operator", "person"),
        ("just transfer me to someone", "person"),
        ("could you have someone look into it and get back to me", "person"),
        ("Yes please open a ticket.", "person"),
        ("this is the third time i'm calling about this get me a manager right now", "anger"),
        ("If this isn't fixed by Friday you'll be hearing from our lawyers.", "legal"),
        ("our attorney is getting involved", "legal"),
        (
            "Your system lost our tickets and I'm furious, I want someone senior to call me back today.",
            "anger",
        ),
    ],
)
def test_escalation_requests(text, reason):
    esc = intents.wants_escalation(text)
    assert esc is not None and esc.reason == reason


@pytest.mark.parametrize(
    "text",
    [
        "one of my agents sam never gets any tickets",
        "how do I reset another agent's password",
        "I know how to do that",
        "can i add my own custom fields to tickets",
        "",
    ],
)
def test_not_escalation(text):
    assert intents.wants_escalation(text) is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("yes", "yes"),
        ("Yep.", "yes"),
        ("yeah that's right", "yes"),
        ("correct", "yes"),
        ("Yes, correct now.", "yes"),
        ("uh huh", "yes"),
        ("no", "no"),
        ("Nope.", "no"),
        ("no sorry it's schools with an s", "no"),
        ("that's not right", "no"),
        ("I know the answer", None),
        ("maybe", None),
        ("", None),
    ],
)
def test_yes_no(text, expected):
    assert intents.yes_no(text) == expected


@pytest.mark.parametrize(
    "text, kind",
    [
        ("Can you hear me okay?", "hearing_check"),
        ("Hang on a sec let me grab my laptop.", "hold"),
        ("sorry i'm driving give me a second to pull over", "hold"),
        ("hello hi", "greeting"),
        ("Yeah hi good morning how are you?", "how_are_you"),
        ("Okay great thanks so much bye.", "goodbye"),
        ("Um okay.", "filler"),
    ],
)
def test_smalltalk(text, kind):
    talk = intents.smalltalk(text)
    assert talk is not None and talk.kind == kind


@pytest.mark.parametrize(
    "text",
    [
        "hi how do i reset my password",
        "hello, can I get a refund for my annual plan",
        "hold on, how do I export all my tickets to a csv file",
    ],
)
def test_questions_are_not_smalltalk(text):
    assert intents.smalltalk(text) is None


def test_solved_and_not_helped():
    assert intents.sounds_solved("Okay I set a new one and I'm in, perfect thank you.")
    assert intents.sounds_solved("great that worked thanks so much")
    assert not intents.sounds_solved("No, still blank. I think something's broken on your side.")
    assert intents.sounds_not_helped("No, still blank. I think something's broken on your side.")
    assert intents.sounds_not_helped("we tried it twice it's still failing")
    assert not intents.sounds_not_helped("Okay I see forgot password, I clicked it and put my work email in.")


def test_questions_done_and_gibberish():
    assert intents.looks_like_question("And can it put the customer's name in it?")
    assert intents.looks_like_question("okay and what happens to all our data after that")
    assert not intents.looks_like_question("Okay hang on let me pull up the login page.")
    assert intents.nothing_else("no that's it thanks")
    assert intents.nothing_else("Nope.")
    assert not intents.nothing_else("no I can't log in")
    assert intents.is_gibberish("?? ... !!")
    assert intents.is_gibberish("")
    assert not intents.is_gibberish("no")
    assert intents.wants_repeat("sorry can you repeat the steps")


@pytest.mark.parametrize("text", ["operator", "a human please", "um customer service", "representative"])
def test_a_turn_that_only_names_a_person_asks_for_one(text: str) -> None:
    assert intents.wants_escalation(text) == intents.Escalation("person")


def test_thats_all_closes_only_when_nothing_follows_it() -> None:
    assert intents.nothing_else("that's all, thanks")
    assert intents.nothing_else("okay that's all I needed")
    assert intents.nothing_else("no that's it")
    assert not intents.nothing_else("yeah i know about the customs form, that's all filled in")
    assert not intents.wants_escalation("the agent said it was fixed")


@pytest.mark.parametrize(
    "text",
    [
        "can you slow down a bit",
        "whoa you're talking way too fast",
        "could you speak more slowly please",
        "say it slower",
        "sorry that was too quick",
        "talk a little slower",
    ],
)
def test_asks_to_speak_more_slowly(text: str) -> None:
    assert intents.wants_slower(text)


@pytest.mark.parametrize(
    "text",
    [
        "the app is really slow today",
        "my internet is slow",
        "is there a faster way to do it",
        "how fast is a refund",
    ],
)
def test_slow_things_are_not_a_request_to_speak_slowly(text: str) -> None:
    assert not intents.wants_slower(text)


def test_substance_counts_content_words_only() -> None:
    assert intents.substance("oh sorry sorry I was on mute. yeah hi") == 0
    assert intents.substance("invoices") == 1
    assert intents.substance("the billing page shows an error") >= 3


def test_subject_before_are_there_makes_a_statement() -> None:
    assert not intents.looks_like_question("oh you are there it is it was in my junk folder")
    assert intents.looks_like_question("are there any limits on the api")
    assert intents.looks_like_question("so is there a fee for that")


@pytest.mark.parametrize(
    "text",
    [
        "Can't someone from billing get in touch about that then?",
        "could somebody be in touch with me tomorrow",
    ],
)
def test_someone_getting_in_touch_is_a_request_for_a_person(text):
    esc = intents.wants_escalation(text)
    assert esc is not None and esc.reason == "person"


@pytest.mark.parametrize(
    ("text", "step"),
    [
        ("wait what was the second step", 2),
        ("what was step two again", 2),
        ("can you say step 3 again", 3),
        ("and the last step?", -1),
        ("the first step", 1),
        ("can you repeat the steps", None),
        ("I did two steps already", None),
    ],
)
def test_step_asked(text: str, step: int | None) -> None:
    assert intents.step_asked(text) == step


@pytest.mark.parametrize(
    "text", ["wait what was the second step", "sorry, how long is the link valid", "okay so where do I click"]
)
def test_a_lead_in_word_does_not_hide_a_question(text: str) -> None:
    assert intents.looks_like_question(text)


@pytest.mark.parametrize(
    ("text", "foreign"),
    [
        ("hola, necesito ayuda con mi contraseña", True),
        ("bonjour je voudrais annuler mon abonnement", True),
        ("Пароль не работает совсем", True),
        ("I forgot my password", False),
        ("invoices", False),  # too short to tell
        ("can't log in", False),
    ],
)
def test_not_english(text: str, foreign: bool) -> None:
    assert intents.not_english(text) is foreign


@pytest.mark.parametrize(
    "text", ["am I talking to a robot?", "are you a real person", "is this a real person or a bot"]
)
def test_asking_what_the_agent_is_is_small_talk_not_a_request_for_a_person(text: str) -> None:
    talk = intents.smalltalk(text)
    assert talk is not None and talk.kind == "identity"
    assert intents.wants_escalation(text) is None


def test_asking_for_a_person_after_asking_what_the_agent_is_still_escalates() -> None:
    esc = intents.wants_escalation("am I talking to a real person? I want to talk to a human")
    assert esc is not None and esc.reason == "person"


@pytest.mark.parametrize(
    ("text", "legal"),
    [
        ("we need a signed data processing agreement for our legal team", False),
        ("Our legal team needs you to sign a data processing agreement", False),
        ("fix it by Friday or you will hear from our legal team", True),
        ("I'm getting our legal department involved", True),
        ("you'll be hearing from our lawyers", True),
    ],
)
def test_legal_team_is_a_threat_only_when_it_is_used_as_one(text: str, legal: bool) -> None:
    esc = intents.wants_escalation(text)
    assert (esc is not None and esc.reason == "legal") is legal


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        # a ticket asked for, not described
        ("Yes please open a ticket", True),
        ("can you just create a case for me", True),
        ("i'd like to file a formal complaint", True),
        ("the mobile app crashes every time I open a ticket with an attachment", False),
        ("is there a chrome extension so i can make a ticket from any page", False),
        # an action only staff can take, or a team named instead of a person
        ("can you just unlock it for her", True),
        ("okay please have billing look at it", True),
        ("can you have someone from billing look at it", True),
        ("how do I reset it for her", False),
        ("can you tell me how to reset it", False),
    ],
)
def test_a_request_for_a_person(text: str, asks: bool) -> None:
    esc = intents.wants_escalation(text)
    assert (esc is not None and esc.reason == "person") is asks


@pytest.mark.parametrize("text", ["still nothing", "nothing happened", "I clicked it and nothing happens"])
def test_nothing_happening_is_not_helped(text: str) -> None:
    assert intents.sounds_not_helped(text)


def test_a_court_order_is_not_a_legal_threat():
    assert intents.wants_escalation("we got a court order to garnish one worker's wages") is None
    assert intents.wants_escalation("fix it or we'll see you in court") == intents.Escalation("legal")


def test_hold_at_the_end_of_a_turn():
    assert intents.holds_at_end("i was gonna ask about our accounting stuff, but uh, hold on one second")
    assert not intents.holds_at_end("hold on let me check the invoice number")


def test_found_it_is_progress():
    assert intents.found_it("settings billing invoices. yep there it is")
    assert intents.found_it("okay found it")
    assert not intents.found_it("where is it")


@pytest.mark.parametrize(
    "text, rest",
    [
        ("ok thanks, bye", "ok thanks"),
        ("sorry I need to go, my boss is calling", "sorry my boss is calling"),
        ("never mind, I'll call back later", "never mind later"),
        ("gotta run, talk later", ""),
        ("I'll try again tomorrow", ""),
        ("Jane Doe, bye", "jane doe"),
    ],
)
def test_a_caller_leaving(text: str, rest: str) -> None:
    assert intents.leaving(text)
    assert " ".join(intents.without_leaving(text).split()) == rest


@pytest.mark.parametrize(
    "text",
    [
        "can I call back later?",
        "I need to go to the settings page",
        "I have to go and check with my boss",
        "Jane Doe",
        "we called back twice already",
    ],
)
def test_not_leaving(text: str) -> None:
    assert not intents.leaving(text)


@pytest.mark.parametrize(
    "text, plan",
    [
        ("Alright, I'll get our IT person to put them in.", True),
        ("okay I'll try that tomorrow", True),
        ("we're going to set that up this afternoon", True),
        ("I'll need to change my billing address", False),
        ("we're going to switch to annual billing, how do I do that", False),
        ("I'll do it but it still fails", False),
        ("I'll be honest, the invoices are wrong", False),
        ("will I get an email?", False),
    ],
)
def test_a_caller_announcing_their_next_step(text: str, plan: bool) -> None:
    assert intents.announces_plan(text) is plan
