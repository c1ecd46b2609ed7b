"""Every fixed sentence the agent says, by id, so its audio can be synthesized ahead of time.

The voice pipeline warms its audio cache with `all_prompts(company)` at start-up: a cached
prompt starts playing within one 20 ms frame of the decision. Texts with a `{name}` or other
slot are not fixed and are synthesized when needed.
"""

from __future__ import annotations

PROMPTS: dict[str, str] = {
    "greeting": "Thank you for calling {company} support. How can I help you today?",
    "did_that_solve": "Does that solve your issue?",
    "great_anything_else": "Great! Is there anything else I can help you with?",
    "anything_else": "Is there anything else I can help you with?",
    "what_else": "Sure, what else can I help you with?",
    "escalate": (
        "I'm sorry, I don't have that information right now, but I'll pass this on to our expert team. "
        "They will follow up shortly."
    ),
    "escalate_person": "Of course. I'll pass this on to our team so a person can follow up with you.",
    "escalate_upset": (
        "I'm sorry about this experience. I'll pass this on to our team right away so a person can follow up with you."
    ),
    "ask_name": "May I have your first and last name, please?",
    "ask_name_again": "Sorry, I didn't catch your name. Could you tell me your first and last name?",
    "email_first_ask_name": "Thanks, I have your email address. And your first and last name, please?",
    "ask_email": "And what's the best email address to reach you?",
    "ask_email_wrapup": "Before you go, what's the best email address for the record of this call?",
    "ask_email_again": "Sorry, I didn't get a valid email address. Could you say it again, spelling it letter by letter?",
    "ask_email_part": "Sorry about that. Which part did I get wrong? You can spell it for me.",
    "confirm_yes_no": "Sorry, is that correct? Please say yes or no.",
    "email_uncertain": "Thanks. I'll note that address, and our team will double check it.",
    "ask_phone": "And what's the best phone number to reach you?",
    "ask_phone_again": "Sorry, I didn't get that number. Could you say it again, digit by digit?",
    "read_back_intro": "Let me read that back.",
    "details_done": "Thank you. I've passed this on, and our team will follow up shortly.",
    "before_you_go": "Just one thing before you go, so that our team can follow up with you.",
    "sounds_good": "Sounds good.",
    "sure_noted": "Sure, I'll make sure of that.",
    "back_to_case": "Now, back to the case for our team.",
    "thanks_short": "Thanks.",
    "transfer": "I'm transferring you to a member of our team now. They'll have your case in front of them.",
    "transfer_failed": (
        "I'm sorry, nobody is available to take the call right now. Your case is logged, and our team will "
        "follow up shortly. Goodbye."
    ),
    "goodbye": "Thank you for calling {company}. Have a great day. Goodbye!",
    "goodbye_escalated": "Thank you. Our team will follow up with you shortly. Goodbye!",
    "hold_ok": "Sure, take your time.",
    "hearing_yes": "Yes, I can hear you. How can I help you today?",
    "hearing_yes_midcall": "Yes, I can hear you.",
    "greeting_back": "Hi there! How can I help you today?",
    "how_are_you": "I'm doing well, thank you for asking. How can I help you today?",
    "identity": (
        "I'm the automated assistant for {company} support. I can answer most questions, and pass "
        "anything else to our team. How can I help you today?"
    ),
    "identity_midcall": "I'm the automated assistant for {company} support, and our team sees everything you tell me.",
    "you_are_welcome": "You're welcome!",
    "not_caught": "Sorry, I didn't catch that. Could you say that again?",
    "not_caught_question": "Sorry, I didn't quite catch that. Could you tell me what you need help with?",
    "ask_what_about": "Could you tell me a bit more about what you need help with?",
    "english_only": "Sorry, I didn't understand that. I can help in English: what do you need help with?",
    "found_after_all": "Ah, that helps. I think I can answer that after all.",
    "silence_1": "Are you still there?",
    "silence_question": "Are you still there? How can I help you today?",
    "silence_close": (
        "I haven't heard anything for a while, so I'll end the call now. A record of this call has been logged. Goodbye."
    ),
    "ack_progress": "Okay. Let me know how it goes, or if you get stuck.",
    "ack_detail": "Thanks, I've noted that.",
    "engine_error": "I'm sorry, I'm having trouble on my side of the line right now.",
    "engine_error_close": "Our team will call you back at the number you called from. Goodbye.",
    "clarify_again": "Sorry, which one did you mean?",
    "noted_for_team": "Thanks, I've added that to your case for our team.",
    "no_answer_followup": "I don't have that detail here, but I'll pass the question on to our team.",
}


def prompt(prompt_id: str, company: str) -> str:
    return PROMPTS[prompt_id].format(company=company)


def all_prompts(company: str) -> dict[str, str]:
    """Every fixed prompt, ready to be synthesized and cached at start-up."""
    return {pid: prompt(pid, company) for pid in PROMPTS}
