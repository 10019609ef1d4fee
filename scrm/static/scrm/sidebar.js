/* Guide sidebar <-> WeCom client (企业微信 JS-SDK). Plain JavaScript, no dependencies, no CDN.
 *
 * Inside the WeCom client: load jweixin (only there), sign the page through /sidebar/jssdk/config,
 * wx.config + wx.agentConfig, then getContext / getCurExternalContact (a one-to-one chat) or
 * getCurExternalChat (a customer group chat) / sendChatMessage (either).
 * In an ordinary browser in DEMO_MODE: a stand-in bridge with a demo bar (演示 Demo) at the bottom
 * where a person chooses the "current chat" (a customer, or one of the guide's customer groups) and
 * sees what was "sent" (sessionStorage).
 * Docs: https://developer.work.weixin.qq.com/document/path/96909 (config), /96918, /98531, /96935, /97020.
 */
(function () {
  "use strict";

  var root = document.getElementById("sb");
  if (!root || !root.dataset.guide) return;
  var data = root.dataset;
  var CHAT_ENTRIES = ["single_chat_tools", "contact_profile", "single_kf_tools"];
  var GROUP_ENTRIES = ["group_chat_tools", "chain_group_chat_tools"];
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
        getCurExternalChat: function () { return window.ww.getCurExternalChat(); },
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
      getCurExternalChat: function () { return invoke("getCurExternalChat"); },
      sendChatMessage: function (message) { return invoke("sendChatMessage", message); }
    };
  }

  // the demo's current chat: {euid, name} (one customer) or {chatId, name} (a customer group)
  function chatKey(current) { return current.chatId ? "group:" + current.chatId : current.euid; }

  function demoBridge() {
    function chat() { return store.get("chat", null); }
    return {
      kind: "demo",
      getContext: function () {
        var current = chat();
        return Promise.resolve({ err_msg: "getContext:ok",
                                 entry: current && current.chatId ? "group_chat_tools" : "single_chat_tools" });
      },
      getCurExternalContact: function () {
        var current = chat();
        if (!current || current.chatId) return Promise.reject(new Error("getCurExternalContact:fail without context of external contact"));
        return Promise.resolve({ err_msg: "getCurExternalContact:ok", userId: current.euid });
      },
      getCurExternalChat: function () {
        var current = chat();
        if (!current || !current.chatId) return Promise.reject(new Error("getCurExternalChat:fail without context of external chat"));
        return Promise.resolve({ err_msg: "getCurExternalChat:ok", chatId: current.chatId });
      },
      sendChatMessage: function (message) {
        var current = chat();
        if (!current) return Promise.reject(new Error("sendChatMessage:fail without context of external contact"));
        var log = store.get("log", []);
        log.push({ to: chatKey(current), text: message.text.content, at: Date.now() });
        store.set("log", log.slice(-60));
        renderLog();
        return Promise.resolve({ err_msg: "sendChatMessage:ok" });
      }
    };
  }

  function noBridge() {
    var fail = function () { return Promise.reject(new Error("not inside WeCom")); };
    return { kind: "none", getContext: fail, getCurExternalContact: fail, getCurExternalChat: fail, sendChatMessage: fail };
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
    list.appendChild(el("li", "sb-demo-with", current.chatId
      ? "群聊「" + current.name + "」 · Group chat " + current.name
      : "与 " + current.name + " 的聊天 · Chat with " + current.name));
    var key = chatKey(current);
    var messages = store.get("log", []).filter(function (m) { return m.to === key; });
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
    var groups = answer.ok ? (answer.body.groups || []) : [];
    var people = el("optgroup");
    people.label = "客户 Customers";
    customers.forEach(function (c) {
      var option = el("option", "", c.name + " · " + c.code);
      option.value = c.external_userid;
      option.dataset.name = c.name;
      people.appendChild(option);
    });
    var other = el("option", "", "其他人（不是我的客户）· Someone else (not my customer)");
    other.value = NOT_MINE;
    other.dataset.name = "其他人 Someone else";
    people.appendChild(other);
    select.appendChild(people);
    if (groups.length) {
      var chats = el("optgroup");
      chats.label = "我的客户群 My customer groups";
      groups.forEach(function (g) {
        var option = el("option", "", "群 " + g.name + " · " + g.customers + "人");
        option.value = "group:" + g.chat_id;
        option.dataset.name = g.name;
        option.dataset.chatId = g.chat_id;
        chats.appendChild(option);
      });
      select.appendChild(chats);
    }
    var current = store.get("chat", null);
    if (current && !Array.prototype.some.call(select.options, function (o) { return o.value === chatKey(current); })) {
      var kept = el("option", "", current.name);
      kept.value = chatKey(current);
      kept.dataset.name = current.name;
      if (current.chatId) kept.dataset.chatId = current.chatId;
      select.appendChild(kept);
    }
    select.value = current ? chatKey(current) : "";
    select.addEventListener("change", function () {
      var option = select.options[select.selectedIndex];
      var name = option.dataset.name || option.textContent;
      store.set("chat", !select.value ? null
        : option.dataset.chatId ? { chatId: option.dataset.chatId, name: name } : { euid: select.value, name: name });
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

  function renderCurrentGroup(chatId) {
    // in a customer group's chat: name it (from its task card, or the demo's choice) and point at its tasks
    if (!currentBox) return;
    currentBox.textContent = "";
    currentBox.className = "sb-chat";
    currentBox.hidden = false;
    var card = document.querySelector('[data-chat-id="' + (window.CSS && CSS.escape ? CSS.escape(chatId) : chatId) + '"]');
    var demoChat = store.get("chat", null);
    var name = card ? card.dataset.chatName : (demoChat && demoChat.chatId === chatId ? demoChat.name : "");
    currentBox.appendChild(el("span", "l", "当前群聊 Current group chat"));
    currentBox.appendChild(el("strong", "n", name || "客户群 Customer group"));
    if (data.todayUrl && !card) {
      var link = el("a", "go", "群任务 Group tasks ›");
      link.href = data.todayUrl + "#group-tasks";
      currentBox.appendChild(link);
    }
  }

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

  var sendState = { bridge: null, contact: null, chat: null, error: "" };

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
    if (card.dataset.chatId) {  // a group task: goes into that customer group's chat
      if (sendState.error) text = sendState.error;
      else if (!bridge || bridge.kind === "none") text = "请在企业微信中打开侧边栏 · Open the sidebar inside WeCom.";
      else if (!sendState.chat) text = bridge.kind === "demo"
        ? "请在下方演示栏选择这个客户群 · Choose this group in the demo bar below."
        : "请在该客户群的聊天中打开侧边栏 · Open the sidebar in this group's chat.";
      else if (sendState.chat !== card.dataset.chatId) text = "当前群聊不是这个群，不能发送 · The open chat is not this group.";
      else { ready = true; text = "将发送到这个客户群 · Goes into this group's chat."; }
      button.disabled = !ready;
      status.textContent = text;
      status.className = "sb-send-status" + (ready ? "" : " muted");
      return;
    }
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
    var entry = "normal", contact = null, resolved = null, chat = null;
    try { entry = (await bridge.getContext()).entry || "normal"; } catch (e) { /* not in WeCom */ }
    var entryNode = demoBar && demoBar.querySelector("[data-demo-entry]");
    if (entryNode) entryNode.textContent = entry;
    if (CHAT_ENTRIES.indexOf(entry) >= 0) {
      try { contact = (await bridge.getCurExternalContact()).userId || null; } catch (e) { contact = null; }
    }
    if (GROUP_ENTRIES.indexOf(entry) >= 0) {
      try { chat = (await bridge.getCurExternalChat()).chatId || null; } catch (e) { chat = null; }
    }
    sendState.chat = chat;
    if (chat) {
      renderCurrentGroup(chat);
      sendState.contact = null;
      updateSend();
      return;
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
