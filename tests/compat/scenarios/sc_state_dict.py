"""Nested agents: registration, repr tree, dotted state_dict, load_state_dict, reset."""

from __future__ import annotations

import warnings

from _common import main, mod, outcome, run_cases, scripted_llm


def run(pkg: str) -> dict:
    agents = mod(pkg, "agents")
    Agent = agents.Agent

    def llm(n=10):
        return scripted_llm(pkg, [f"reply {i}" for i in range(n)])

    class Team(Agent):
        def __init__(self):
            super().__init__()
            self.writer = Agent(llm(), "write", name="writer")
            self.critic = Agent(llm(), "criticise", name="critic")

        def forward(self, message, session_id=0):
            draft = self.writer(message, session_id=session_id)
            return self.critic(draft, session_id=session_id)

    def team_run():
        team = Team()
        team("topic", session_id=3)
        return {
            "repr": repr(team),
            "keys_s3": list(team.state_dict(session_id=3)),
            "sd_s3": team.state_dict(session_id=3),
        }

    def missing_session():
        team = Team()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sd = team.state_dict(session_id=9)
        return {"sd": sd, "warned": len(caught) > 0}

    def load_round_trip():
        src = Team()
        src("first", session_id=0)
        dst = Team()
        dst.load_state_dict(src.state_dict())
        return dst.state_dict()

    def load_missing():
        team = Team()
        return outcome(lambda: team.load_state_dict({"memory": []}), message=False)

    def load_extra_warns():
        team = Team()
        sd = {"memory": [], "writer.memory": [], "critic.memory": [], "ghost.memory": []}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            team.load_state_dict(sd)
        return {"warned": len(caught) > 0, "sd": team.state_dict()}

    def resets():
        team = Team()
        team("q", session_id=0)
        out = {}
        team.reset(keypath="writer")
        out["after_keypath"] = {k: len(v) for k, v in team.state_dict().items()}
        team.reset()
        out["after_plain"] = {k: len(v) for k, v in team.state_dict().items()}
        team.reset(recursive=True)
        out["after_recursive"] = {k: len(v) for k, v in team.state_dict().items()}
        out["both"] = outcome(lambda: team.reset(keypath="writer", recursive=True), message=False)
        out["bad_keypath"] = outcome(lambda: team.reset(keypath="nobody"), message=False)
        return out

    def sequential():
        seq = agents.Sequential(Agent(llm(), "a", name="a"), Agent(llm(), "b", name="b"))
        reply = seq("go")
        exit_early = agents.Sequential(Agent(llm(), name="x"), Agent(llm(), name="y"))
        early = exit_early("go", exit_at=0)
        return {
            "reply": reply,
            "len": len(seq),
            "keys": list(seq.state_dict()),
            "sd": seq.state_dict(),
            "minus_one": seq[-1].name,
            "repr": repr(seq),
            "exit_at_0": early,
            "exit_at_0_sd": {k: len(v) for k, v in exit_early.state_dict().items()},
            "empty": outcome(lambda: agents.Sequential(), message=False),
        }

    def sequential_add_agent():
        seq = agents.Sequential(Agent(llm(), name="a"))
        seq.add_agent("extra", Agent(llm(), name="extra"))
        return {
            "len": len(seq),
            "named": seq["extra"].name,
            "minus_one": outcome(lambda: seq[-1].name),
        }

    def containers():
        class Crew(Agent):
            def __init__(self):
                super().__init__()
                self.members = agents.AgentList([Agent(llm(), name="m0"), Agent(llm(), name="m1")])
                self.roles = agents.AgentDict({"boss": Agent(llm(), name="boss")})

            def forward(self, message, session_id=0):
                out = self.members[0](message, session_id=session_id)
                return self.roles["boss"](out, session_id=session_id)

        crew = Crew()
        crew("plan")
        crew.members.append(Agent(llm(), name="m2"))
        return {
            "keys": list(crew.state_dict()),
            "sd": crew.state_dict(),
            "repr": repr(crew),
            "dot_key": outcome(lambda: crew.roles.update({"a.b": Agent(llm())}), message=False),
            "int_key": outcome(lambda: crew.roles.update({1: Agent(llm())}), message=False),
            "not_agent": outcome(lambda: crew.members.append("nope"), message=False),
            "after_errors": list(crew.state_dict()),
        }

    def async_sequential():
        import asyncio

        first = agents.AsyncAgent(scripted_llm(pkg, ["one"], asynchronous=True), name="first")
        second = agents.AsyncAgent(scripted_llm(pkg, ["two"], asynchronous=True), name="second")
        seq = agents.AsyncSequential(first, second)
        reply = asyncio.run(seq("go", session_id=2))
        return {"reply": reply, "sd": seq.state_dict(session_id=2)}

    def container_load_state_dict():
        crew = agents.AgentList([Agent(llm(), name="a"), Agent(llm(), name="b")])
        team = agents.AgentDict({"lead": Agent(llm(), name="lead")})
        crew_sd = {"0.memory": [{"content": "x", "sender": "user"}], "1.memory": []}
        team_sd = {"lead.memory": [{"content": "y", "sender": "user"}]}
        crew.load_state_dict(crew_sd)
        team.load_state_dict(team_sd)
        return {"crew": crew.state_dict(), "team": team.state_dict(), "len": [len(crew), len(team)]}

    return run_cases(
        {
            "async_sequential": async_sequential,
            "container_load_state_dict": container_load_state_dict,
            "team_run": team_run,
            "missing_session": missing_session,
            "load_round_trip": load_round_trip,
            "load_missing": load_missing,
            "load_extra_warns": load_extra_warns,
            "resets": resets,
            "sequential": sequential,
            "sequential_add_agent": sequential_add_agent,
            "containers": containers,
        }
    )


if __name__ == "__main__":
    main(run)
