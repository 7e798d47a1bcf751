"""Fixed vocabulary for the sample generator: names, poll templates, question texts.

Everything here is constant data; `sample_session` picks from it with a seeded RNG,
so the same seed always yields the same texts.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Ada", "Alan", "Amara", "Anders", "Ana", "Arjun", "Beatriz", "Ben", "Carla", "Chen",
    "Chloé", "Dalia", "Daniel", "Dmitri", "Elena", "Emeka", "Erik", "Fatima", "Felix",
    "Grace", "Hana", "Hugo", "Ines", "Isaac", "Jamal", "Jana", "Jorge", "Julia", "Kai",
    "Keiko", "Lars", "Leila", "Liam", "Lucía", "Malik", "Maya", "Mei", "Nadia", "Noah",
    "Olga", "Omar", "Priya", "Rafael", "Rosa", "Sam", "Sofia", "Tariq", "Tomás", "Uma",
    "Victor", "Wei", "Yara", "Yusuf", "Zoë",
)  # fmt: skip

LAST_NAMES = (
    "Abe", "Almeida", "Andersen", "Brown", "Castillo", "Chowdhury", "Costa", "Dubois",
    "Eriksson", "Fischer", "García", "Haddad", "Ivanova", "Jensen", "Kim", "Kowalski",
    "Lee", "Martin", "Mensah", "Moreau", "Müller", "Nakamura", "Novak", "O'Brien", "Okafor",
    "Patel", "Quinn", "Rossi", "Santos", "Schmidt", "Singh", "Tanaka", "Torres", "Varga",
    "Wang", "Williams", "Yilmaz", "Zhang",
)  # fmt: skip

GUEST_NAMES = (
    "guest", "kim from sales", "JD", "audio room 4", "anon-ish", "Mara (contractor)",
    "intern team", "Pat", "r.k.", "visitor",
)  # fmt: skip

TOPICS = (
    "the Q3 roadmap", "the new expense policy", "remote work", "the data migration",
    "the security audit", "hiring plans", "the pricing change", "our customer churn",
    "the office move", "the mobile app release", "the reorg", "the compliance training",
    "the budget freeze", "the vendor contract", "the AI pilot", "on-call rotation",
    "the quarterly targets", "the partner program", "the benefits update", "the launch date",
)  # fmt: skip

TEAMS = (
    "engineering", "sales", "support", "finance", "marketing", "legal", "the EMEA team",
    "new hires", "contractors", "our customers", "managers", "the field teams",
)  # fmt: skip

QUESTION_TEMPLATES = (
    "What is the timeline for {topic}?",
    "How will {topic} affect {team}?",
    "Can you share more details on {topic}?",
    "Who owns {topic} going forward?",
    "Why was {topic} decided without input from {team}?",
    "Is there a recording of the session on {topic}?",
    "What does success look like for {topic}?",
    "Will {team} get extra resources for {topic}?",
    "How do we escalate issues with {topic}?",
    "When can {team} expect an update on {topic}?",
    "Are there any risks with {topic} we should know about?",
    "How does {topic} compare with last year?",
)

REPLY_TEMPLATES = (
    "Good question, we will follow up by email.",
    "+1, same question from {team}.",
    "There is a page about {topic} on the intranet.",
    "We covered this last week, see the slides.",
    "I had the same concern about {topic}.",
    "Answered live, thanks!",
    "Can we get a written answer on this?",
    "Agree, {team} needs clarity here.",
)

# Mild words a profanity filter would flag, and emojis it flags too.
PROFANE_WORDS = ("damn", "crap", "bloody", "hell", "screw")
PROFANE_EMOJIS = ("\U0001f4a9", "\U0001f595")

# (title, options) for simple choice polls.
CHOICE_POLLS = (
    ("How do you rate today's session?", ("Excellent", "Good", "Average", "Poor")),
    ("Which topic should we cover next?", ("Security", "Roadmap", "Hiring", "Budget")),
    ("Where are you joining from?", ("Office", "Home", "On the road", "Customer site")),
    ("How clear is the new policy?", ("Very clear", "Mostly clear", "Confusing")),
    ("Which tools do you use daily?", ("Webex", "Slido", "Jira", "Confluence", "Excel")),
    ("Should we keep this meeting weekly?", ("Yes", "No", "Every two weeks")),
)

# (title, options, index of the correct option) for quizzes.
QUIZ_POLLS = (
    ("What year was the company founded?", ("1984", "1992", "2001", "2010"), 0),
    ("Which data class needs encryption at rest?", ("Public", "Internal", "Restricted"), 2),
    ("How many days do you have to report an incident?", ("1", "3", "7", "30"), 0),
    ("Which of these is a phishing sign?", ("Urgent tone", "Known sender", "No links"), 0),
    ("Who approves travel expenses?", ("Anyone", "Your manager", "Finance only"), 1),
)

TEXT_POLLS = (
    "Describe this quarter in one word",
    "What should we stop doing?",
    "What is your biggest blocker right now?",
    "Any feedback for the speakers?",
    "What would you like to learn next?",
)

TEXT_ANSWERS = (
    "busy", "exciting", "chaotic", "focused", "more documentation", "fewer meetings",
    "clearer priorities", "approvals take too long", "great talk", "more demos please",
    "cloud security", "data analytics", "better onboarding", "nothing, all good",
    "too many tools", "challenging but rewarding", "the VPN is slow", "leadership training",
)  # fmt: skip

# (title, [(questionType, title, options, isRequired)]) for surveys.
SURVEYS = (
    (
        "Quarterly pulse survey",
        (
            ("choice", "How satisfied are you with your team?", ("1", "2", "3", "4", "5"), True),
            ("choice", "Do you have the tools you need?", ("Yes", "Partly", "No"), True),
            ("text", "What one thing would you change?", (), False),
        ),
    ),
    (
        "Event feedback",
        (
            ("choice", "How useful was this event?", ("Very", "Somewhat", "Not really"), True),
            ("text", "Which session did you like most?", (), False),
            ("choice", "Would you attend again?", ("Yes", "Maybe", "No"), False),
        ),
    ),
    (
        "Training needs",
        (
            ("choice", "Preferred format?", ("Live", "Recorded", "Reading", "Mentoring"), True),
            ("text", "Which skills do you want to build?", (), True),
        ),
    ),
)

POLL_DESCRIPTIONS = (
    "",
    "Answers are shared with the leadership team.",
    "Vote now, results at the end of the session.",
    "This helps us plan the next all-hands.",
)
