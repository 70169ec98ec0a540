import { describe, expect, it } from "vitest";
import { InstanceRegistry, type Intent, parseConfig, parsePhrase, splitCommand } from "../../src/index.js";

const registry = new InstanceRegistry(
  parseConfig({
    self: { name: "xiaoa" },
    instances: {
      xiaom: { aliases: ["小m", "mac-mini", "Mac mini"], gateway: { url: "ws://127.0.0.1:1", token: "t" } },
      xiaob: { aliases: ["小b", "vps"], gateway: { url: "ws://127.0.0.1:2", token: "t" } },
    },
  }),
  {},
);

const table: readonly [string, Intent][] = [
  ["给小m发消息：部署完成", { action: "send", target: "xiaom", body: "部署完成" }],
  ["给小m发消息:部署完成", { action: "send", target: "xiaom", body: "部署完成" }],
  ["给 小m 发消息 部署完成", { action: "send", target: "xiaom", body: "部署完成" }],
  ["给小M发消息：你好", { action: "send", target: "xiaom", body: "你好" }],
  ["给小m发个消息，今晚十点重启", { action: "send", target: "xiaom", body: "今晚十点重启" }],
  ["给小m发一条消息：备份好了", { action: "send", target: "xiaom", body: "备份好了" }],
  ["给xiaom发信息：hello", { action: "send", target: "xiaom", body: "hello" }],
  ["给小m发消息：第一行\n第二行", { action: "send", target: "xiaom", body: "第一行\n第二行" }],
  ["通知小m 部署完成", { action: "send", target: "xiaom", body: "部署完成" }],
  ["通知小m：部署完成", { action: "send", target: "xiaom", body: "部署完成" }],
  ["告诉小b 数据库迁移好了", { action: "send", target: "xiaob", body: "数据库迁移好了" }],
  ["提醒小m，明天检查证书", { action: "send", target: "xiaom", body: "明天检查证书" }],
  ["发消息给小b：收到", { action: "send", target: "xiaob", body: "收到" }],
  ["tell xiaom: deploy done", { action: "send", target: "xiaom", body: "deploy done" }],
  ["tell xiaom deploy done", { action: "send", target: "xiaom", body: "deploy done" }],
  ["Tell mac-mini that the build is green", { action: "send", target: "xiaom", body: "the build is green" }],
  ["message vps: disk at 91%", { action: "send", target: "xiaob", body: "disk at 91%" }],
  ["notify xiaob, backup finished", { action: "send", target: "xiaob", body: "backup finished" }],
  ["send a message to xiaom: $(touch /tmp/x) `id`", { action: "send", target: "xiaom", body: "$(touch /tmp/x) `id`" }],
  ["ping XIAOM are you there?", { action: "send", target: "xiaom", body: "are you there?" }],
  ["通知所有实例：今晚十点维护", { action: "send", target: "all", body: "今晚十点维护" }],
  ["给所有实例发消息：备份完成", { action: "send", target: "all", body: "备份完成" }],
  ["告诉全部实例 证书已更新", { action: "send", target: "all", body: "证书已更新" }],
  ["tell all instances the release is out", { action: "send", target: "all", body: "the release is out" }],
  ["notify every instance: maintenance at ten", { action: "send", target: "all", body: "maintenance at ten" }],
  ["在小m上执行 ls -la", { action: "exec", target: "xiaom", argv: ["ls", "-la"] }],
  ["在小m上执行：git -C ~/repo status", { action: "exec", target: "xiaom", argv: ["git", "-C", "~/repo", "status"] }],
  ["在 小b 上运行 df -h /", { action: "exec", target: "xiaob", argv: ["df", "-h", "/"] }],
  ['在小m上执行 echo "hello world"', { action: "exec", target: "xiaom", argv: ["echo", "hello world"] }],
  ["让小m执行 uptime", { action: "exec", target: "xiaom", argv: ["uptime"] }],
  ["run uname -a on xiaom", { action: "exec", target: "xiaom", argv: ["uname", "-a"] }],
  ["run ls -la on the mac-mini", { action: "exec", target: "xiaom", argv: ["ls", "-la"] }],
  ["on vps: run systemctl status openclaw", { action: "exec", target: "xiaob", argv: ["systemctl", "status", "openclaw"] }],
  ["execute 'git pull' on xiaom", { action: "exec", target: "xiaom", argv: ["git pull"] }],
  ["把 ~/repo 同步到小m", { action: "sync", target: "xiaom", paths: ["~/repo"] }],
  ["把 ./dist 同步到小b", { action: "sync", target: "xiaob", paths: ["./dist"] }],
  ["把 ~/repo 同步到小m的 ~/projects/repo", { action: "sync", target: "xiaom", paths: ["~/repo"], destination: "~/projects/repo" }],
  ["同步 ~/notes 到小m", { action: "sync", target: "xiaom", paths: ["~/notes"] }],
  ["sync ~/repo to xiaom", { action: "sync", target: "xiaom", paths: ["~/repo"] }],
  ["sync ./site to the vps:/srv/site", { action: "sync", target: "xiaob", paths: ["./site"], destination: "/srv/site" }],
  ["push ~/repo to mac-mini", { action: "sync", target: "xiaom", paths: ["~/repo"] }],
];

describe("parsePhrase", () => {
  it.each(table)("%j", (phrase, expected) => {
    expect(parsePhrase(phrase, registry)).toEqual(expected);
  });

  it("has a table of at least 30 phrases", () => {
    expect(table.length).toBeGreaterThanOrEqual(30);
  });

  it("keeps the target as written when no registry is given", () => {
    expect(parsePhrase("给小m发消息：你好")).toEqual({ action: "send", target: "小m", body: "你好" });
  });

  it("suggests the closest names for an unknown target", () => {
    const intent = parsePhrase("给小n发消息：你好", registry);
    expect(intent.action).toBe("unknown");
    expect(intent).toMatchObject({ reason: 'no instance is called "小n"' });
    expect(intent.action === "unknown" && intent.suggestions).toContain("小m");
    const latin = parsePhrase("tell xiaon: hi", registry);
    expect(latin.action === "unknown" && latin.suggestions?.slice(0, 2)).toEqual(expect.arrayContaining(["xiaom"]));
  });

  it("refuses shell syntax in a command instead of passing it to a shell", () => {
    for (const phrase of [
      "在小m上执行 ls; rm -rf /",
      "run cat x | sh on xiaom",
      "在小m上执行 echo $(id)",
      "run echo `id` on xiaom",
      "在小m上执行 ls && reboot",
      "在小m上执行 echo hi > /etc/passwd",
    ]) {
      const intent = parsePhrase(phrase, registry);
      expect(intent.action, phrase).toBe("unknown");
      expect(intent.action === "unknown" && intent.reason, phrase).toMatch(/shell syntax/);
    }
  });

  it("does not guess at phrases it does not understand", () => {
    for (const phrase of ["", "hello", "今天天气怎么样", "给小m", "tell"]) {
      expect(parsePhrase(phrase, registry).action, phrase).toBe("unknown");
    }
  });
});

describe("splitCommand", () => {
  it("keeps variables literal instead of expanding them", () => {
    expect(splitCommand("echo $HOME")).toEqual({ argv: ["echo", "$HOME"] });
  });
  it("keeps globs literal", () => {
    expect(splitCommand("ls *.md")).toEqual({ argv: ["ls", "*.md"] });
  });
  it("refuses an empty command", () => {
    expect(splitCommand("   ")).toEqual({ error: "no command given" });
  });
});

describe("groups in the registry", () => {
  it("names its members by instance name; `all` is every instance unless the config defines it; bad members name the field", () => {
    const withGroups = new InstanceRegistry(
      parseConfig({ self: { name: "xiaoa" }, instances: { xiaom: { aliases: ["小m"] }, xiaob: {} }, groups: { macs: ["小m"] } }),
      {},
    );
    expect(withGroups.group("macs")).toEqual({ name: "macs", members: ["xiaom"] });
    expect(withGroups.group("all")).toEqual({ name: "all", members: ["xiaom", "xiaob"] });
    expect(withGroups.group("xiaom")).toBeUndefined();
    expect(parsePhrase("tell macs: hello", withGroups)).toEqual({ action: "send", target: "macs", body: "hello" });
    expect(() => new InstanceRegistry(parseConfig({ self: { name: "a" }, instances: { xiaom: {} }, groups: { macs: ["xiaoz"] } }), {})).toThrow(
      /groups\.macs\.0: "xiaoz" is not a configured instance/u,
    );
    expect(() => new InstanceRegistry(parseConfig({ self: { name: "a" }, instances: { xiaom: {} }, groups: { xiaom: ["xiaom"] } }), {})).toThrow(
      /groups\.xiaom: "xiaom" is also the name/u,
    );
  });
});
