/**
 * The start-up banner: which mode runs (loudly), where everything listens, and how to trigger a demo
 * change. Identifiers only — never a secret.
 */
import type { LocalSettings } from './local-settings.ts';
import type { LocalStack } from './stack.ts';

const RULE = '='.repeat(100);

export function startupBanner(
  stack: LocalStack,
  settings: LocalSettings,
  envFile: string | undefined,
): string {
  const { mode, endpoints, definition } = stack;
  const sandbox = mode.k3 === 'sandbox' && mode.fx === 'sandbox';
  const real = mode.k3 === 'real' && mode.fx === 'real';
  const headline = sandbox
    ? '沙箱模式 SANDBOX MODE — 两端都是本地模拟器，不会触碰任何真实租户 / both sides are local emulators; no real tenant is touched'
    : real
      ? '真实模式 REAL MODE — 连接真实的金蝶云星空和纷享销客租户 / connected to your real K3Cloud and Fxiaoke tenants'
      : `混合模式 MIXED MODE — 金蝶 K3Cloud: ${mode.k3 === 'real' ? '真实 REAL' : '模拟器 EMULATOR'}, 纷享 Fxiaoke: ${mode.fx === 'real' ? '真实 REAL' : '模拟器 EMULATOR'}`;
  const lines: string[] = [
    RULE,
    ` fxiaoke-k3cloud-sync 本地运行 / local stack (stage "${definition.stage}")`,
    ` ${headline}`,
    RULE,
  ];
  lines.push(
    ` 金蝶 K3Cloud   ${mode.k3 === 'sandbox' ? '模拟器 emulator' : '真实 real    '}  ${endpoints.k3cloud}`,
    ` 纷享 Fxiaoke   ${mode.fx === 'sandbox' ? '模拟器 emulator' : '真实 real    '}  ${endpoints.fxiaoke}${endpoints.fxiaokeEditPage ? `   编辑页 edit page: ${endpoints.fxiaokeEditPage}` : ''}`,
    ` Webhook        POST ${endpoints.webhook}`,
  );
  if (mode.fx === 'real') {
    lines.push(
      '                纷享销客需要能访问到此地址：请用隧道或反向代理把公网 HTTPS 地址转发到这里，并在「事件变更订阅」中填写。',
      '                Fxiaoke must reach this URL: expose it through a tunnel or reverse proxy (HTTPS) and register it in the change-push subscription.',
    );
  }
  lines.push(' 函数 Functions:');
  for (const fn of definition.functions) {
    const events = [
      ...fn.httpRoutes.map((r) => r.routeKey),
      ...fn.sqsTriggers.map(
        (t) =>
          `SQS ${t.queueName} (batch ${t.batchSize}${t.maximumConcurrency ? `, ×${t.maximumConcurrency}` : ''})`,
      ),
      ...fn.schedules.map((s) => `${s.expression.text}${settings.schedules ? '' : ' (off)'}`),
    ];
    const broken = stack.initErrors.get(fn.key);
    lines.push(
      `   ${fn.key.padEnd(28)} ${events.join('; ') || '(no events)'}${broken ? `   ✗ 加载失败 init failed: ${broken}` : ''}`,
    );
  }
  lines.push(
    ` AWS 替身 stand-ins: SQS ${endpoints.sqs}   DynamoDB ${endpoints.dynamodb}   SSM ${endpoints.ssm}${stack.ssmPrefixes.length > 0 ? ` (${stack.ssmPrefixes.join(', ')})` : ''}`,
    ` 映射配置 Mapping config: ${stack.configPath ?? '(SSM parameter)'}`,
    ` 数据 Data: ${settings.dataDir}${envFile ? `   .env: ${envFile}` : ''}`,
  );
  if (settings.control) lines.push(` 状态 Status: GET ${endpoints.gateway}/__local/status`);
  if (mode.fx === 'sandbox') {
    lines.push(
      RULE,
      ' 试一试 Try it — 在另一个终端 in another terminal:',
      '   npm run demo:edit-customer     # 改一个纷享客户，看它出现在金蝶 / edit a CRM customer, watch it reach the ERP',
      '   npm run demo:edit-order        # 改一张销售订单 / edit a CRM sales order',
      `   或打开编辑页 or open the edit page: ${endpoints.fxiaokeEditPage ?? ''}`,
    );
  }
  lines.push(
    RULE,
    ' 函数正在加载（像冷启动一样，先到的请求会等待）/ functions are loading (like cold starts; early requests wait)',
    ' Ctrl-C 停止（数据保存在磁盘）/ Ctrl-C stops cleanly (data stays on disk)',
    RULE,
  );
  return `${lines.join('\n')}\n`;
}
