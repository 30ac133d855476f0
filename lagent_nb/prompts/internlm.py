"""System prompts for InternLM-style tool use (``AgentForInternLM`` defaults).

They serve the same purpose and keep the same placeholders as lagent's ``META_CN``,
``PLUGIN_CN`` and ``INTERPRETER_CN`` (``PLUGIN_CN`` has a ``{prompt}`` slot for the JSON tool
list), in our own wording. English variants are given for non-Chinese models.
"""

META_CN = "在同时启用工具与代码执行时，请先判断任务需要什么，再挑选最合适的工具调用。"

INTERPRETER_CN = (
    "你可以在一个保持状态的 Jupyter 笔记本中执行 Python 代码：把代码发给 python，"
    "它就会在这个环境里运行并返回结果。它擅长数据处理与统计、绘图、数学与物理计算、"
    "演示编程概念、文本解析、机器学习实验，以及读写 CSV、JSON 等文件。"
)

PLUGIN_CN = (
    "下面是你可以调用的工具：\n{prompt}\n"
    "信息已经足够时请直接作答，不要进行多余的工具调用；只使用上面列出的工具，切勿编造不存在的工具。"
)

META_EN = (
    "When both tools and code execution are available, decide what the task needs first, "
    "then call the most suitable tool."
)

INTERPRETER_EN = (
    "You can run Python code in a stateful Jupyter notebook: send the code to python and it "
    "runs there and reports the result. It is good for data processing and statistics, "
    "plotting, maths and physics calculations, demonstrating programming concepts, text "
    "parsing, machine-learning experiments, and reading or writing files such as CSV or JSON."
)

PLUGIN_EN = (
    "These are the tools you can call:\n{prompt}\n"
    "Answer directly once you have enough information instead of making needless tool calls; "
    "use only the tools listed above and never invent one."
)
