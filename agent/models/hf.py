"""Multimodal models run in-process with transformers (``hf:MODEL``): no API server.

* :func:`load_vlm` loads a vision-language model and its processor (Qwen2.5-VL by default, any
  model ``AutoModelForImageTextToText`` knows; a hub id or a local folder), offline unless
  ``allow_downloads``; device and dtype are automatic (bf16 on a GPU that has it).
* :func:`generate_text` answers one chat (text and images) with greedy decoding.
* :class:`HFChatModel` is a LangChain chat model on top of them, so the same model can drive the
  caption graph (``--llm hf:MODEL``): tools are rendered by the model's chat template, and tool
  calls come back as text, which :mod:`agent.models.toolcalls` reads.
"""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path
from typing import Any, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from agent.core.errors import InputError

DEFAULT_VLM = "Qwen/Qwen2.5-VL-3B-Instruct"


def model_id(spec: str) -> str:
    """``hf:MODEL`` -> MODEL; a bare ``hf`` or ``hf:`` means the default, Qwen2.5-VL 3B."""
    name = spec.removeprefix("hf").removeprefix(":").strip()
    return name or DEFAULT_VLM


def _dtype(device: str):
    import torch

    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    return torch.float32


def load_vlm(spec: str, settings) -> tuple[Any, Any, str]:
    """(model, processor, device) for ``hf:MODEL``; one line of InputError when it cannot be loaded."""
    from agent.models.devices import keep_loaded, pick_device

    name = model_id(spec)
    device = pick_device(settings.device)

    def build() -> tuple[Any, Any, str]:
        try:
            import torch  # noqa: F401
            from transformers import AutoModelForImageTextToText, AutoProcessor
        except ImportError as e:
            raise InputError(f"hf:{name}: {e.name or 'transformers'} is not installed; pip install 'instance-agent[neural]'")
        offline = not settings.allow_downloads
        if name.startswith(("/", ".", "~")) and not Path(name).expanduser().is_dir():
            raise InputError(f"hf:{name}: no such model folder")
        try:
            where = str(Path(name).expanduser()) if name.startswith("~") else name
            processor = AutoProcessor.from_pretrained(where, local_files_only=offline)
            model = AutoModelForImageTextToText.from_pretrained(where, local_files_only=offline, dtype=_dtype(device))
        except (OSError, ValueError) as e:
            first = " ".join(str(e).split())[:160]
            if offline and ("cached files" in first or "connect" in first):
                first = "it is not in the Hugging Face cache"
            how = "download it once with allow_downloads = true, or give a local folder" if offline else "check the id"
            raise InputError(f"hf:{name}: cannot load the model{' offline' if offline else ''} ({first}); {how}")
        model.to(device).eval()
        return model, processor, device

    return keep_loaded(("hf", name, device), build)


def generate_text(model, processor, messages: list[dict], max_new_tokens: int = 256,
                  tools: list[dict] | None = None) -> tuple[str, int, int]:
    """Greedy answer to a chat; returns (text, prompt tokens, new tokens)."""
    import torch

    kwargs = {"tools": tools} if tools else {}
    inputs = processor.apply_chat_template(messages, tokenize=True, add_generation_prompt=True, return_dict=True,
                                           return_tensors="pt", **kwargs)
    inputs = {k: v.to(model.device) if hasattr(v, "to") else v for k, v in inputs.items()}
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    prompt_len = inputs["input_ids"].shape[1]
    new = out[:, prompt_len:]
    text = processor.batch_decode(new, skip_special_tokens=True)[0]
    return text.strip(), int(prompt_len), int(new.shape[1])


def image_from_data_url(url: str):
    from PIL import Image

    if not url.startswith("data:"):
        raise InputError("hf: models here take embedded images (data URLs) only")
    data = base64.b64decode(url.split(",", 1)[1])
    return Image.open(io.BytesIO(data)).convert("RGB")


def to_hf_messages(messages: Sequence[BaseMessage]) -> list[dict]:
    """LangChain messages as a transformers chat (images decoded, tool calls written as text)."""
    out: list[dict] = []
    for m in messages:
        if isinstance(m, SystemMessage):
            out.append({"role": "system", "content": [{"type": "text", "text": str(m.content)}]})
        elif isinstance(m, HumanMessage):
            parts = []
            for p in (m.content if isinstance(m.content, list) else [{"type": "text", "text": m.content}]):
                if isinstance(p, str):
                    parts.append({"type": "text", "text": p})
                elif p.get("type") == "text":
                    parts.append({"type": "text", "text": p["text"]})
                elif p.get("type") == "image_url":
                    parts.append({"type": "image", "image": image_from_data_url(p["image_url"]["url"])})
            out.append({"role": "user", "content": parts})
        elif isinstance(m, AIMessage):
            text = m.content if isinstance(m.content, str) else ""
            for call in m.tool_calls:
                text += "\n<tool_call>" + json.dumps({"name": call["name"], "arguments": call["args"]}) + "</tool_call>"
            out.append({"role": "assistant", "content": [{"type": "text", "text": text.strip()}]})
        elif isinstance(m, ToolMessage):
            out.append({"role": "tool", "content": [{"type": "text", "text": str(m.content)}]})
    return out


class HFChatModel(BaseChatModel):
    """A transformers vision-language model as the caption graph's chat model (``--llm hf:MODEL``)."""

    spec: str
    settings: Any
    tools: list[dict] = []
    max_new_tokens: int = 512

    @property
    def _llm_type(self) -> str:
        return "transformers"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> "HFChatModel":
        from langchain_core.utils.function_calling import convert_to_openai_tool

        specs = [t if isinstance(t, dict) else convert_to_openai_tool(t) for t in tools]
        return self.model_copy(update={"tools": specs})

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        model, processor, _ = load_vlm(self.spec, self.settings)
        started = time.perf_counter()
        text, prompt_tokens, new_tokens = generate_text(model, processor, to_hf_messages(messages),
                                                        self.max_new_tokens, self.tools or None)
        reply = AIMessage(content=text, usage_metadata={"input_tokens": prompt_tokens, "output_tokens": new_tokens,
                                                        "total_tokens": prompt_tokens + new_tokens},
                          response_metadata={"model": model_id(self.spec),
                                             "seconds": round(time.perf_counter() - started, 3)})
        return ChatResult(generations=[ChatGeneration(message=reply)])
