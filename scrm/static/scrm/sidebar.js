/* Guide sidebar <-> WeCom client (企业微信 JS-SDK). Plain JavaScript, no dependencies, no CDN.
 *
 * Inside the WeCom client: load jweixin (only there), sign the page through /sidebar/jssdk/config,
 * wx.config + wx.agentConfig, then getContext / getCurExternalContact / sendChatMessage.
 * In an ordinary browser in DEMO_MODE: a stand-in bridge with a demo bar (演示 Demo) at the bottom
 * where a person chooses the "current chat customer" and sees what was "sent" (sessionStorage).
 * Docs: https://developer.work.weixin.qq.com/document/path/96909 (config), /96918, /96935, /97020.
 */
(function () {
  "use strict";

  var root = document.getElementById("sb");
  if (!root || !root.dataset.guide) return;
  var data = root.dataset;
  var CHAT_ENTRIES = ["single_chat_tools", "contact_profile", "single_kf_tools"];
  var NOT_MINE = "wmDEMOnotmine000000000000000000";

  // ---------------------------------------------------------------- per-guide session storage
  var prefix = "scrm.sidebar." + data.guide + ".";
  var store = {
    get: function (key, fallback) {
      try {
        var raw = window.sessionStorage.getItem(prefix + key);
        return raw === null ? fallback : JSON.parse(raw);
      } catch (e) { return fallback; }
    },
    set: function (key, value) {
      try { window.sessionStorage.setItem(prefix + key, JSON.stringify(value)); } catch (e) { /* private mode */ }
    }
  };

  function fetchJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          return { ok: response.ok, status: response.status, body: body };
        });
      });
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(script);
    });
  }

  // ---------------------------------------------------------------- bridges
  function inWeCom() { return /wxwork/i.test(navigator.userAgent); }

  async function wecomBridge() {
    if (!window.wx && !window.ww && data.jweixinSrc) await loadScript(data.jweixinSrc);
    var answer = await fetchJSON(data.jssdkUrl + "?url=" + encodeURIComponent(location.href.split("#")[0]));
    if (!answer.ok) throw new Error((answer.body && answer.body.message) || "jssdk config " + answer.status);
    var cfg = answer.body;
    if (window.ww && window.ww.register) {  // the newer @wecom/jssdk, when the page bundles it
      window.ww.register({
        corpId: cfg.corpid, agentId: cfg.agentid, jsApiList: cfg.jsApiList,
        getConfigSignature: function () { return cfg.config; },
        getAgentConfigSignature: function () { return cfg.agentConfig; }
      });
      return {
        kind: "wecom",
        getContext: function () { return window.ww.getContext(); },
        getCurExternalContact: function () { return window.ww.getCurExternalContact(); },
        sendChatMessage: function (message) { return window.ww.sendChatMessage(message); }
      };
    }
    var wx = window.wx;
    await new Promise(function (resolve, reject) {
      wx.config({ beta: true, debug: false, appId: cfg.config.appId, timestamp: cfg.config.timestamp,
                  nonceStr: cfg.config.nonceStr, signature: cfg.config.signature, jsApiList: cfg.jsApiList });
      wx.error(function (res) { reject(new Error((res && res.errMsg) || "wx.config failed")); });
      wx.ready(function () {
        wx.agentConfig({
          corpid: cfg.agentConfig.corpid, agentid: cfg.agentConfig.agentid, timestamp: cfg.agentConfig.timestamp,
          nonceStr: cfg.agentConfig.nonceStr, signature: cfg.agentConfig.signature, jsApiList: cfg.jsApiList,
          success: resolve,
          fail: function (res) { reject(new Error((res && res.errMsg) || "wx.agentConfig failed")); }
        });
      });
    });
    function invoke(name, args) {
      return new Promise(function (resolve, reject) {
        wx.invoke(name, args || {}, function (res) {
          if (res && res.err_msg === name + ":ok") resolve(res);
          else reject(new Error((res && res.err_msg) || name + ":fail"));
        });
      });
    }
    return {
      kind: "wecom",
      getContext: function () { return invoke("getContext"); },
      getCurExternalContact: function () { return invoke("getCurExternalContact"); },
      sendChatMessage: function (message) { return invoke("sendChatMessage", message); }
    };
  }

  function demoBridge() {
    function chat() { return store.get("chat", null); }
    return {
      kind: "demo",
      getContext: function () { return Promise.resolve({ err_msg: "getContext:ok", entry: "single_chat_tools" }); },
      getCurExternalContact: function () {
        var current = chat();
        if (!current) return Promise.reject(new Error("getCurExternalContact:fail without context of external contact"));
        return Promise.resolve({ err_msg: "getCurExternalContact:ok", userId: current.euid });
      },
      sendChatMessage: function (message) {
        var current = chat();
        if (!current) return Promise.reject(new Error("sendChatMessage:fail without context of external contact"));
        var log = store.get("log", []);
        log.push({ to: current.euid, text: message.text.content, at: Date.now() });
        store.set("log", log.slice(-60));
        renderLog();
        return Promise.resolve({ err_msg: "sendChatMessage:ok" });
      }
    };
  }

  function noBridge() {
    var fail = function () { return Promise.reject(new Error("not inside WeCom")); };
    return { kind: "none", getContext: fail, getCurExternalContact: fail, sendChatMessage: fail };
  }

  async function makeBridge() {
    if (inWeCom()) return wecomBridge();
    if (data.demo === "1") return demoBridge();
    return noBridge();
  }

  // ---------------------------------------------------------------- the demo bar
  var demoBar = document.getElementById("sb-demo");

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function renderLog() {
    var list = demoBar && demoBar.querySelector("[data-demo-log]");
    if (!list) return;
    var current = store.get("chat", null);
    list.textContent = "";
    if (!current) {
      list.appendChild(el("li", "sb-demo-empty", "选择当前聊天客户后，发送的消息会出现在这里 · Messages you send appear here once a chat is chosen."));
      return;
    }
    list.appendChild(el("li", "sb-demo-with", "与 " + current.name + " 的聊天 · Chat with " + current.name));
    var messages = store.get("log", []).filter(function (m) { return m.to === current.euid; });
    if (!messages.length) list.appendChild(el("li", "sb-demo-empty", "还没有发送消息 · No messages sent yet."));
    messages.forEach(function (m) {
      var item = el("li", "sb-demo-msg");
      item.appendChild(el("div", "bubble", m.text));
      var at = new Date(m.at);
      item.appendChild(el("div", "meta", "已发送 Sent · " + at.toTimeString().slice(0, 5)));
      list.appendChild(item);
    });
    list.scrollTop = list.scrollHeight;
  }

  async function setupDemoBar(bridge) {
    if (!demoBar) return;
    demoBar.hidden = false;
    root.classList.add("demo-on");
    var select = demoBar.querySelector("[data-demo-chat]");
    var toggle = demoBar.querySelector("[data-demo-toggle]");
    var collapsed = store.get("collapsed", false);
    function applyCollapsed() {
      demoBar.classList.toggle("collapsed", collapsed);
      toggle.setAttribute("aria-expanded", String(!collapsed));
      toggle.textContent = collapsed ? "展开 Show" : "收起 Hide";
    }
    toggle.addEventListener("click", function () { collapsed = !collapsed; store.set("collapsed", collapsed); applyCollapsed(); });
    applyCollapsed();

    var answer = await fetchJSON(data.demoChatsUrl);
    var customers = answer.ok ? answer.body.customers : [];
    customers.forEach(function (c) {
      var option = el("option", "", c.name + " · " + c.code);
      option.value = c.external_userid;
      option.dataset.name = c.name;
      select.appendChild(option);
    });
    var other = el("option", "", "其他人（不是我的客户）· Someone else (not my customer)");
    other.value = NOT_MINE;
    other.dataset.name = "其他人 Someone else";
    select.appendChild(other);
    var current = store.get("chat", null);
    if (current && !Array.prototype.some.call(select.options, function (o) { return o.value === current.euid; })) {
      var kept = el("option", "", current.name);
      kept.value = current.euid;
      kept.dataset.name = current.name;
      select.appendChild(kept);
    }
    select.value = current ? current.euid : "";
    select.addEventListener("change", function () {
      var option = select.options[select.selectedIndex];
      store.set("chat", select.value ? { euid: select.value, name: option.dataset.name || option.textContent } : null);
      store.set("opened", null);  // a new chat: open that customer's page, as WeCom would
      renderLog();
      syncWithChat(bridge, true);
    });
    renderLog();
  }

  // ---------------------------------------------------------------- which customer's chat are we in?
  var currentBox = document.getElementById("sb-current");
  var pageEuids = (function () {
    var node = document.getElementById("sb-member-euids");
    try { return node ? JSON.parse(node.textContent) : null; } catch (e) { return null; }
  })();

  function renderCurrent(contact, resolved) {
    if (!currentBox) return;
    currentBox.textContent = "";
    currentBox.className = "sb-chat";
    if (!contact || (resolved && pageEuids && pageEuids.indexOf(contact) >= 0)) {
      currentBox.hidden = true;  // nothing to say, or this page is already that customer
      return;
    }
    currentBox.hidden = false;
    if (resolved) {
      currentBox.appendChild(el("span", "l", "当前聊天 Current chat"));
      currentBox.appendChild(el("strong", "n", resolved.name || resolved.code));
      var link = el("a", "go", "查看 Open ›");
      link.href = resolved.url;
      currentBox.appendChild(link);
    } else {
      currentBox.classList.add("warn");
      currentBox.appendChild(el("span", "", "当前聊天的客户不是您的会员客户 · The customer in this chat is not one of your customers."));
    }
  }

  var sendState = { bridge: null, contact: null, error: "" };

  function cardEuids(card) {
    // a task card names its own customer's WeCom ids; the customer page's send card uses the page's
    if (card.dataset.euids) { try { return JSON.parse(card.dataset.euids); } catch (e) { return []; } }
    return pageEuids || [];
  }

  function updateSend() {
    document.querySelectorAll("[data-send]").forEach(updateSendCard);
  }

  function updateSendCard(card) {
    var button = card.querySelector("[data-send-button]");
    var status = card.querySelector("[data-send-status]");
    var bridge = sendState.bridge, contact = sendState.contact, euids = cardEuids(card);
    var ready = false, text;
    if (sendState.error) text = sendState.error;
    else if (!bridge || bridge.kind === "none") text = "请在企业微信中打开侧边栏 · Open the sidebar inside WeCom.";
    else if (!euids.length) text = "该客户还没有企业微信好友关系 · This customer has no WeCom contact yet.";
    else if (!contact) text = bridge.kind === "demo"
      ? "请在下方演示栏选择当前聊天客户 · Choose the current chat customer in the demo bar below."
      : "请在与该客户的聊天中打开侧边栏 · Open the sidebar in a chat with this customer.";
    else if (euids.indexOf(contact) < 0) text = "当前聊天不是该客户，不能发送 · The open chat is not with this customer.";
    else { ready = true; text = "将发送到与该客户的聊天 · Goes into the chat with this customer."; }
    button.disabled = !ready;
    status.textContent = text;
    status.className = "sb-send-status" + (ready ? "" : " muted");
  }

  function wireSend() {
    document.querySelectorAll("[data-send]").forEach(wireSendCard);
  }

  function wireSendCard(card) {
    var button = card.querySelector("[data-send-button]");
    var status = card.querySelector("[data-send-status]");
    var textarea = card.querySelector("[data-send-text]");
    button.addEventListener("click", async function () {
      var content = textarea.value.trim();
      if (!content) { status.textContent = "请输入消息 · Please write a message."; return; }
      button.disabled = true;
      try {
        await sendState.bridge.sendChatMessage({ msgtype: "text", text: { content: content } });
        status.textContent = "已发送 ✓ Sent";
        status.className = "sb-send-status ok";
      } catch (e) {
        status.textContent = "发送失败 · Not sent: " + e.message;
        status.className = "sb-send-status err";
      } finally {
        button.disabled = false;
      }
    });
  }

  async function syncWithChat(bridge, autoOpen) {
    var entry = "normal", contact = null, resolved = null;
    try { entry = (await bridge.getContext()).entry || "normal"; } catch (e) { /* not in WeCom */ }
    var entryNode = demoBar && demoBar.querySelector("[data-demo-entry]");
    if (entryNode) entryNode.textContent = entry;
    if (CHAT_ENTRIES.indexOf(entry) >= 0) {
      try { contact = (await bridge.getCurExternalContact()).userId || null; } catch (e) { contact = null; }
    }
    if (contact) {
      var answer = await fetchJSON(data.contactUrl + "?external_userid=" + encodeURIComponent(contact));
      resolved = answer.ok ? answer.body : null;
    }
    if (resolved && autoOpen && store.get("opened", null) !== contact && location.pathname !== resolved.url) {
      // opened in this customer's chat: go straight to their page (once; "back" stays on the list)
      store.set("opened", contact);
      location.href = resolved.url;
      return;
    }
    if (resolved) store.set("opened", contact);
    renderCurrent(contact, resolved);
    sendState.contact = contact;
    updateSend();
  }

  async function main() {
    wireSend();
    var bridge;
    try {
      bridge = await makeBridge();
    } catch (e) {
      bridge = noBridge();
      sendState.error = "企业微信接口不可用 · WeCom JS-SDK unavailable: " + e.message;
    }
    sendState.bridge = bridge;
    root.dataset.bridge = bridge.kind;
    if (bridge.kind === "demo") await setupDemoBar(bridge);
    await syncWithChat(bridge, true);
    root.dataset.bridgeReady = "1";
  }

  main();
})();
