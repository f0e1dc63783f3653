// The caseworker page (/caseworker): the staff member is signed in by the server (a session cookie
// the script never sees); every call sends the session's CSRF token from the page's meta tag.
// File an application for a demo household with Prefer: respond-async,
// then poll the application and redraw each proof's state until it is decided or waits for a
// source. Everything shown is built with textContent: nothing the server returns becomes markup.
(function () {
  "use strict";
  var CSRF_TOKEN = document.querySelector('meta[name="csrf-token"]').content;
  var POLL_MS = 400;
  var WAITING_POLL_MS = 5000;
  var RECENT_SHOWN = 10;
  var BEIJING_OFFSET_MS = 8 * 3600 * 1000;
  var PARTY_ZH = { applicant: "申请人", member: "家庭成员", child: "子女", deceased: "逝者", employer: "用人单位" };
  var CHANNEL_ZH = { counter: "窗口签署", online: "网上签署" };
  // States whose Chinese name says it all: their detail is not repeated (except a commitment taken
  // because the source could not answer).
  var SELF_EXPLAINING = { resolved: true, committed: true, not_found: true, waiting: true };
  var RESULT_ZH = { "true": "成立", "false": "不成立", "null": "无法判断" };
  var labels = JSON.parse(document.getElementById("caseworker-labels").textContent);
  var $ = function (id) { return document.getElementById(id); };

  // The intake form files applications of demo households: only with the development identity provider.
  var DEMO = !!document.getElementById("application-form");
  var state = { households: [], loading: 0, watching: 0, location: null, shownStates: {}, renders: 0,
                departmentName: document.getElementById("workbench").dataset.departmentName,
                city: document.getElementById("workbench").dataset.city, listed: Promise.resolve() };

  // --- small helpers ---------------------------------------------------------------------

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) node.append(child);
    });
    return node;
  }

  function clear(node) { node.replaceChildren(); return node; }

  function show(node, text) { node.textContent = text; node.hidden = !text; }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  function beijing(iso, withSeconds) {
    if (!iso) return "";
    var text = new Date(Date.parse(iso) + BEIJING_OFFSET_MS).toISOString();
    return text.slice(0, 10) + " " + text.slice(11, withSeconds ? 19 : 16);
  }

  function beijingDate(iso) {  // as an official document is dated: 2026年12月7日
    var day = beijing(iso).slice(0, 10).split("-");
    return Number(day[0]) + "年" + Number(day[1]) + "月" + Number(day[2]) + "日";
  }

  function shortId(id) { return id ? id.slice(0, 8) + "…" : ""; }

  function display(item, value) {
    if (value === null || value === undefined) return "（空）";
    if (typeof value === "boolean") return value ? "是" : "否";
    if (item && item.type === "enum") return item.values[value] || String(value);
    if (item && item.type === "list") return value.map(function (v) { return item.values[v] || v; }).join("、");
    if (item && item.type === "datetime") return beijing(value);
    if (item && item.type === "id_number" && String(value).length > 10) {  // masked, as everywhere on screen
      var text = String(value);
      return text.slice(0, 6) + "*".repeat(text.length - 10) + text.slice(-4);
    }
    return String(value);
  }

  function partyName(party) {
    return labels.relations[party.relation] || PARTY_ZH[party.ref.split(":")[0]] || party.ref;
  }

  async function api(method, url, body, headers) {
    var init = { method: method, credentials: "same-origin",
                 headers: Object.assign({ "X-CSRF-Token": CSRF_TOKEN }, headers || {}) };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    var response, text;
    try {
      response = await fetch(url, init);
      text = await response.text();
    } catch (error) {
      return { ok: false, status: 0, headers: new Headers(), body: null };
    }
    var parsed = /json/.test(response.headers.get("Content-Type") || "") && text ? JSON.parse(text) : null;
    return { ok: response.ok, status: response.status, headers: response.headers, body: parsed };
  }

  function problemMessage(answer) {
    var problem = answer.body || {};
    if (answer.status === 0) return "无法连接服务器，请检查网络后重试。";
    if (answer.status === 401) return "登录已过期，请重新登录。";
    if (answer.status === 403) return "本部门无权办理该事项，或您的岗位没有“办理事项申请”权限。";
    if (answer.status === 400) return "申请内容有误，未予受理：" + (problem.title_zh || "请求内容有误") + "。";
    if (answer.status === 409) return "该申请编号已用于另一份申请，请刷新家庭列表后重新提交。";
    return (problem.title_zh || "请求未能完成") + "（HTTP " + answer.status + "），请稍后再试。";
  }

  // --- a session that ended ---------------------------------------------------------------

  // The server ended the session (expired, or signed out in another tab), or this page is older
  // than the session (signed in again in another tab): reload, and the page asks to sign in or is
  // the new session's. `undone`: what the caseworker asked that was not done, said after the reload.
  var UNDONE_KEY = "caseworker-undone";

  function signedOut(undone) {
    state.watching += 1;  // answers still on their way are dropped
    state.loading += 1;
    if (undone) {
      sessionStorage.setItem(UNDONE_KEY, undone);
      history.scrollRestoration = "manual";  // the reloaded page opens at its top, where it says so
    }
    window.location.reload();
  }

  var undone = sessionStorage.getItem(UNDONE_KEY);
  if (undone) {
    sessionStorage.removeItem(UNDONE_KEY);
    show($("undone"), undone);
  }

  // --- the intake form -------------------------------------------------------------------

  function matterCode() { return $("matter").value; }

  function matterFields() {
    return document.querySelector('fieldset.cw-matter[data-matter="' + matterCode() + '"]');
  }

  if (DEMO) $("matter").addEventListener("change", function () {
    document.querySelectorAll("fieldset.cw-matter").forEach(function (fieldset) {
      var chosen = fieldset.dataset.matter === matterCode();
      fieldset.hidden = !chosen;
      fieldset.disabled = !chosen;
    });
    loadHouseholds();
  });
  document.querySelectorAll(".cw-situation, .cw-income-change").forEach(function (control) {
    control.addEventListener("change", loadHouseholds);
  });
  document.querySelectorAll(".cw-income-change").forEach(function (field) {
    field.addEventListener("keydown", function (event) {  // Enter re-lists the households; it does not file
      if (event.key !== "Enter") return;
      event.preventDefault();
      loadHouseholds();
    });
  });

  // Relisting never disables the submit button: a click that arrives while the list reloads
  // (the income field's change fires on the same click) waits for the list, then files.
  function loadHouseholds() {
    state.listed = listHouseholds();
    return state.listed;
  }

  async function listHouseholds() {
    var load = ++state.loading;
    var fields = matterFields();
    var query = new URLSearchParams({ matter: matterCode(), situation: fields.querySelector(".cw-situation").value,
                                      declared_income_change: fields.querySelector(".cw-income-change").value || "0" });
    $("households-status").textContent = "正在读取演示家庭……";
    var answer = await api("GET", "/caseworker/demo-households?" + query.toString());
    if (load !== state.loading) return;
    if (answer.status === 401) return signedOut();
    state.households = answer.ok ? answer.body : [];
    // the household chosen as the list arrives, not as it was asked for: a click on a household
    // that took the focus from the income field (whose change asked for the list) lands meanwhile
    var chosen = document.querySelector('input[name="household"]:checked');
    var index = chosen ? Number(chosen.value) : 0;
    renderHouseholds(Math.min(index, Math.max(state.households.length - 1, 0)));
    $("households-status").textContent = answer.ok ? (state.households.length ? "" : "没有该情况的演示家庭。")
      : answer.status === 404 ? "本系统未安装演示数据，无法选择演示家庭。" : problemMessage(answer);
    $("submit-application").disabled = !state.households.length;
  }

  function renderHouseholds(selected) {
    var body = clear(document.querySelector("#households tbody"));
    state.households.forEach(function (household, index) {
      var head = household.members[0];
      var others = household.members.slice(1).map(function (member) {
        return member.name + "（" + (labels.relations[member.relation] || member.relation) + "，" + member.age + " 岁，" +
          member.id_masked + "）";
      });
      var radio = el("input", { type: "radio", name: "household", id: "household-" + index, value: String(index),
                                "aria-label": "选择 " + head.name });  // one name, though two labels click it
      radio.checked = index === selected;
      body.append(el("tr", {}, [
        el("td", {}, [el("label", { class: "cw-pick", for: "household-" + index }, [radio])]),
        el("td", {}, [el("label", { for: "household-" + index }, [head.name]), el("br"),
                      el("small", { class: "meta" }, [head.id_masked + " · 户号 " + (household.number || "—")])]),
        el("td", {}, [others.length ? others.join("、") : "（单人申请）"]),
        el("td", { class: "cw-number" }, [household.monthly_income_per_person + " 元"]),
      ]));
    });
  }

  function chosenOptions() {
    var options = {};
    matterFields().querySelectorAll("[data-option]").forEach(function (control) {
      options[control.dataset.option] = control.type === "checkbox" ? control.checked : control.value;
    });
    return options;
  }

  // While filing, the button is aria-disabled rather than disabled: a disabled button drops the
  // keyboard's focus to the page, and a screen reader loses its place.
  function filing(on) {
    state.filing = on;
    if (on) $("submit-application").setAttribute("aria-disabled", "true");
    else $("submit-application").removeAttribute("aria-disabled");
  }

  if (DEMO) $("application-form").addEventListener("submit", async function (event) {
    event.preventDefault();
    if (state.filing) return;
    await state.listed;
    var chosen = document.querySelector('input[name="household"]:checked');
    if (!chosen) return show($("submit-error"), "请选择申请家庭。");
    var request = Object.assign({}, state.households[Number(chosen.value)].request, { options: chosenOptions() });
    show($("submit-error"), "");
    filing(true);
    var answer = await api("POST", "/api/v1/matters/" + encodeURIComponent(matterCode()) + "/applications", request,
                           { Prefer: "respond-async" });
    filing(false);
    if (answer.status === 401) return signedOut("页面已过期，刚才的申请没有提交。请重新选择家庭后提交。");
    if (!answer.ok) return show($("submit-error"), problemMessage(answer));
    watch(answer.headers.get("Location"), answer.body);
    $("application-title").focus();
    loadHouseholds();  // fresh request ids: each request body is filed once
    loadRecent();
  });

  // --- watching an application -----------------------------------------------------------

  async function watch(location, first) {
    var generation = ++state.watching;
    var application = first;
    var shownStatus = null;
    state.location = location;
    state.shownStates = {};
    state.renders = 0;
    $("application").hidden = false;
    while (generation === state.watching) {
      if (application) {
        render(application);
        if (application.status !== shownStatus && application.status !== "resolving") loadRecent();
        shownStatus = application.status;
        if (application.status === "decided" || application.status === "withdrawn") return;
      }
      await sleep(application && application.status === "waiting" ? WAITING_POLL_MS : POLL_MS);
      if (generation !== state.watching) return;
      var answer = await api("GET", location);
      if (answer.status === 401) return signedOut();
      if (answer.ok) application = answer.body;
      else if (answer.status !== 0) return show($("waiting"), problemMessage(answer));
    }
  }

  $("refresh-application").addEventListener("click", function () {
    if (state.location) watch(state.location, null);
  });

  $("withdraw-application").addEventListener("click", async function () {
    if (!state.location || !window.confirm("确定撤回本申请？撤回后不再核验和判定，不能恢复。")) return;
    show($("withdraw-error"), "");
    var answer = await api("POST", state.location + "/withdrawal");
    if (answer.status === 401) return signedOut("页面已过期，刚才的撤回没有完成。请在本部门最近办件中重新打开该申请后再撤回。");
    if (answer.ok) {
      state.watching += 1;  // a poll still on its way must not show the application as it was
      render(answer.body);
      $("waiting").scrollIntoView({ block: "center" });  // the button was far below: say it where the eye goes
      return loadRecent();
    }
    if (answer.status === 409 && !answer.headers.get("Retry-After")) {  // concluded meanwhile: show it as it is
      show($("withdraw-error"), "本申请已办结，不能撤回。");
      return watch(state.location, null);
    }
    show($("withdraw-error"), answer.status === 409 ? "系统正在核验本申请，请几秒后再点撤回。"
      : answer.status === 403 ? "只有受理本申请的部门可以撤回。" : problemMessage(answer));
  });

  $("print-notice").addEventListener("click", function () {
    document.body.classList.add("printing-notice");
    window.print();
  });
  window.addEventListener("afterprint", function () { document.body.classList.remove("printing-notice"); });

  function render(application) {
    $("application-meta").textContent = (labels.matters[application.matter] || {}).name_zh + " · 案件编号 " +
      application.case_number + " · 受理时间 " + beijing(application.created_at) + " · 申请编号 " + application.id;
    var status = $("application-status");
    status.textContent = application.status_zh;
    status.className = "cw-status cw-status-" + application.status;
    var announced = application.status_zh + (application.decision && application.status === "decided" ?
      "：" + (labels.decisions[application.decision] || "") : "");
    if ($("application-announcement").textContent !== announced) $("application-announcement").textContent = announced;
    $("paper-saved").textContent = String(application.paper_saved);
    show($("flagged"), application.flagged ? "承诺核查不实：" + (application.flag_reason || "") +
      "。本申请已转为需人工审核，请核实后依法处理。" : "");
    $("withdraw-actions").hidden = application.status === "withdrawn" || application.concluded;
    renderWaiting(application);
    renderProofs(application);
    renderDecision(application);
    renderCommitments(application);
    state.renders += 1;
  }

  function renderWaiting(application) {
    var notice = clear($("waiting"));
    if (application.status === "withdrawn") {
      notice.append(el("p", {}, ["本申请已于 " + beijing(application.withdrawn_at, true) + " 撤回，不再核验和判定。"]));
      notice.hidden = false;
      return;
    }
    var sources = {};
    var awaiting = [];
    application.items.forEach(function (item) {
      if (item.state === "waiting") {
        var source = sources[item.department_name_zh] = sources[item.department_name_zh] || { count: 0, next: null };
        source.count += 1;
        var next = item.next_attempt_at;
        if (next && (!source.next || next < source.next)) source.next = next;
      } else if (item.state === "awaiting_commitment") {
        awaiting.push(item.proof_name_zh);
      }
    });
    Object.keys(sources).forEach(function (name) {
      var source = sources[name];
      notice.append(el("p", { class: "cw-waiting-source" }, [
        el("strong", {}, [name]), "暂时无法应答（" + source.count + " 项待核验）。系统" +
        (source.next ? "将于 " + beijing(source.next, true) + " " : "") + "自动重试，来源部门恢复后本申请自动继续核验并作出判定，无需重新提交。"]));
    });
    if (awaiting.length) notice.append(el("p", { class: "cw-awaiting-commitments" }, [
      "待申请人签署告知承诺：" + awaiting.join("、") + "。请申请人在窗口签署告知承诺书（或在本部门网上受理渠道经身份认证签署），" +
      "由本部门受理系统提交承诺；提交后本申请自动继续核验并作出判定，无需重新提交。在此之前本申请不作判定。"]));
    notice.hidden = !notice.childElementCount;
  }

  function renderProofs(application) {
    var table = $("proofs");
    var parties = application.parties;
    var heads = [el("th", { scope: "col" }, ["证明事项"]), el("th", { scope: "col" }, ["办理方式"]),
                 el("th", { scope: "col" }, ["来源部门"])];
    parties.forEach(function (party) {
      heads.push(el("th", { scope: "col", "data-party": party.ref }, [partyName(party), el("br"),
                                                                       el("small", {}, [party.label])]));
    });
    clear(table.tHead).append(el("tr", {}, heads));
    var rows = [];
    var byProof = {};
    application.items.forEach(function (item) {
      if (!byProof[item.proof]) { byProof[item.proof] = {}; rows.push(item); }
      byProof[item.proof][item.party] = item;
    });
    var body = clear(table.tBodies[0]);
    rows.forEach(function (first) {
      var row = el("tr", { "data-proof": first.proof }, [
        el("th", { scope: "row" }, [first.proof_name_zh]),
        el("td", {}, [el("span", { class: "tag mode-" + first.mode }, [first.mode_zh])]),
        el("td", {}, [first.department_name_zh]),
      ]);
      var items = byProof[first.proof];
      if (items["-"]) {
        row.append(cell(items["-"], { colspan: String(parties.length) }));
      } else {
        parties.forEach(function (party) {
          row.append(items[party.ref] ? cell(items[party.ref], {}) : el("td", { class: "cw-none" }, ["—"]));
        });
      }
      body.append(row);
    });
  }

  function cell(item, attributes) {
    var key = item.proof + "/" + item.party;
    var changed = state.renders > 0 && state.shownStates[key] !== item.state;
    state.shownStates[key] = item.state;
    var td = el("td", Object.assign({ class: "cw-cell cw-state-" + item.state + (changed ? " cw-changed" : ""),
                                      "data-proof": item.proof, "data-party": item.party, "data-state": item.state },
                                    attributes), [el("span", { class: "cw-state" }, [item.state_zh])]);
    var facts = [];
    if (item.as_of) facts.push("截至 " + beijing(item.as_of));
    if (item.receipt_id) facts.push(el("span", { title: item.receipt_id }, ["回执 " + shortId(item.receipt_id)]));
    if (item.commitment_id) {
      facts.push(el("span", { title: item.commitment_id }, ["承诺 " + shortId(item.commitment_id)]));
    }
    var fallback = item.state === "committed" && item.mode !== "commitment";
    if (item.detail && (fallback || !SELF_EXPLAINING[item.state])) facts.push(item.detail);
    if (item.state === "waiting" && item.next_attempt_at) {
      facts.push("将于 " + beijing(item.next_attempt_at, true) + " 自动重试");
    }
    facts.forEach(function (fact) { td.append(el("small", {}, [fact])); });
    return td;
  }

  function renderDecision(application) {
    var detail = application.decision_detail;
    $("decision").hidden = !detail;
    if (!detail) return;
    var outcome = $("decision-outcome");
    outcome.textContent = labels.decisions[application.decision] || detail.outcome_zh;
    outcome.className = "cw-outcome cw-outcome-" + application.decision;
    $("decision-meta").textContent = "判定时间 " + beijing(application.decided_at) +
      (application.priorities.length ? " · 已给予优先条件 " + application.priorities.length + " 项" : "");
    var rules = clear(document.querySelector("#rules tbody"));
    detail.rules.forEach(function (rule) {
      rules.append(el("tr", { "data-rule": rule.code, class: "cw-effect-" + rule.effect }, [
        el("th", { scope: "row" }, [rule.name_zh]),
        el("td", { class: "cw-result" }, [RESULT_ZH[String(rule.result)],
                                          rule.error ? el("small", {}, [rule.error_zh || rule.error]) : null]),
        el("td", {}, [reads(rule.reads, application)]),
      ]));
    });
    var priorities = clear($("priorities"));
    detail.priorities.forEach(function (priority) {
      priorities.append(el("li", { "data-priority": priority.code, class: priority.granted ? "cw-granted" : "" },
                           [(priority.granted ? "已给予：" : "未给予：") + priority.name_zh]));
    });
    var services = clear($("services"));
    detail.services.forEach(function (service) {
      services.append(el("li", {}, [service.name_zh + "：" + (labels.decisions[service.outcome] || service.outcome)]));
    });
    $("services-block").hidden = !detail.services.length;
    var notes = clear($("notes"));
    detail.notes.forEach(function (note) { notes.append(el("li", {}, [note])); });
    $("notes-block").hidden = !detail.notes.length;
    $("notice-actions").hidden = application.decision !== "not_eligible";
    if (application.decision === "not_eligible") renderNotice(application);
  }

  // A printable 不符合条件告知书: the failed rules with the values read and their sources.
  function renderNotice(application) {
    var detail = application.decision_detail;
    var applicant = (application.parties || []).filter(function (party) { return party.ref === "applicant"; })[0];
    var matterName = application.matter_name_zh || (labels.matters[application.matter] || {}).name_zh || application.matter;
    var failed = detail.rules.filter(function (rule) { return rule.effect === "not_eligible" && rule.result === false; });
    var list = el("ol", {}, failed.map(function (rule) {
      return el("li", {}, [el("strong", {}, [rule.name_zh]), reads(rule.reads, application, true)]);
    }));
    clear($("notice")).append(
      el("h2", {}, ["不符合条件告知书"]),
      el("p", { class: "cw-notice-no" }, ["案件编号 " + application.case_number]),
      el("p", {}, [(applicant ? "申请人 " + applicant.label : "申请人") + "："]),
      el("p", {}, ["您于 " + beijing(application.created_at) + "（北京时间）申请的“" + matterName + "”，经向有关部门核验，" +
                   "本机关于 " + beijing(application.decided_at) + "（北京时间）决定：您的申请不符合条件（以下称本决定）。" +
                   "未满足的条件及所依据的数据如下："]),
      list,
      el("p", {}, ["如认为所依据的数据有误，可向上述数据来源部门申请更正后重新申请；对本决定不服的，可以自收到本告知书之日起" +
                   "六十日内向" + (state.city || "本级") + "人民政府申请行政复议，或者在六个月内依法向人民法院提起行政诉讼。"]),
      el("p", {}, ["本告知书所载时间均为北京时间。"]),
      el("p", { class: "cw-notice-signature" }, [state.departmentName || "", el("br"), beijingDate(application.decided_at)])
    );
  }

  // What the rules read, each with its source; on the printed notice without the receipt's id
  // (the workbench keeps it, for the department to prove what it was answered).
  function reads(list, application, onPaper) {
    var ul = el("ul", { class: "cw-reads" });
    list.forEach(function (read) {
      ul.append(el("li", { "data-party": read.party || "" }, [
        el("span", { class: "cw-read-what" }, [readText(read, application)]), el("br"),
        el("span", { class: "cw-source" }, [sourceText(read.source, !onPaper)]),
      ]));
    });
    return ul;
  }

  function readText(read, application) {
    if (read.proof) {
      var proof = labels.proofs[read.proof] || { name_zh: read.proof, items: {} };
      var item = proof.items[read.field];
      return (read.party_label ? read.party_label + " · " : "") + proof.name_zh + " · " +
        (item ? item.name_zh : read.field) + "：" + display(item, read.value);
    }
    var name = read.field.split(".").slice(1).join(".");
    if (read.source.kind === "city") {
      var constant = labels.city[name] || { name_zh: name, unit_zh: "" };
      return constant.name_zh + "：" + display(null, read.value) + " " + constant.unit_zh;
    }
    var options = (labels.matters[application.matter] || { options: {} }).options;
    return (options[name] || name) + "：" + display(null, read.value);
  }

  function sourceText(source, withReceipt) {
    if (source.kind === "commitment") return "来源：申请人告知承诺 · 承诺编号 " + source.commitment_id;
    if (source.kind === "city") return "来源：本市公布的标准（清单城市参数）";
    if (source.kind === "application") return "来源：申请人选择的申请选项";
    var how = source.kind === "investigation" ? "部门核查" : labels.modes[source.mode] || source.mode;
    return "来源：" + source.department_name + " · " + how + (source.as_of ? " · 数据截至 " + beijing(source.as_of) : "") +
      (withReceipt && source.receipt_id ? " · 回执 " + source.receipt_id : "");
  }

  function renderCommitments(application) {
    var body = clear(document.querySelector("#commitments tbody"));
    application.commitments.forEach(function (commitment) {
      body.append(el("tr", { "data-commitment": commitment.proof, class: "cw-check-" + commitment.status }, [
        el("th", { scope: "row" }, [commitment.proof_name_zh]),
        el("td", {}, [el("code", {}, [commitment.id])]),
        el("td", {}, [(CHANNEL_ZH[commitment.channel] || commitment.channel) + " · " + beijing(commitment.signed_at) +
                      (commitment.fallback ? " · 来源部门无法应答时代替" : "")]),
        el("td", { class: "cw-check" }, [commitment.status_zh]),
        el("td", {}, [commitment.verification_detail || ""]),
      ]));
    });
    $("commitments-block").hidden = !application.commitments.length;
  }

  // --- the department's recent applications ----------------------------------------------

  async function loadRecent() {
    var answer = await api("GET", "/api/v1/applications");
    var body = clear(document.querySelector("#recent tbody"));
    if (!answer.ok) return show($("recent-status"), problemMessage(answer));
    answer.body.slice(0, RECENT_SHOWN).forEach(function (summary) {
      var open = el("button", { type: "button", class: "secondary" },  // named by its case for a screen reader's list
                    ["查看", el("span", { class: "visually-hidden" }, ["案件 " + summary.case_number])]);
      open.addEventListener("click", function () {
        watch("/api/v1/applications/" + summary.id, null);
        $("application-title").focus();  // the list is drawn again under the button that had it
      });
      body.append(el("tr", { "data-application": summary.id }, [
        el("td", {}, [summary.case_number]),
        el("td", {}, [(labels.matters[summary.matter] || {}).name_zh || summary.matter]),
        el("td", {}, [labels.statuses[summary.status] || summary.status]),
        el("td", {}, [summary.decision ? labels.decisions[summary.decision] : "—",
                      summary.flagged ? el("span", { class: "tag cw-flag-tag" }, ["承诺不实"]) : null]),
        el("td", {}, [beijing(summary.created_at)]),
        el("td", {}, [open]),
      ]));
    });
    show($("recent-status"), answer.body.length ? "" : "本部门尚无办件。");
  }

  if (DEMO) loadHouseholds();
  loadRecent();
})();
