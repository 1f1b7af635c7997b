import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** `deploy/psnb2b-sync.service`: the options README promises, parsed the way systemd reads them. */

const UNIT = fileURLToPath(new URL('../../deploy/psnb2b-sync.service', import.meta.url));

/** Section → key → every value (a key may repeat), as systemd's unit-file syntax has it. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[([A-Za-z]+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1] as string, current);
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!kv || !current) throw new Error(`line ${i + 1} is not a section or a key=value: ${raw}`);
    const values = current.get(kv[1] as string) ?? [];
    values.push(kv[2] as string);
    current.set(kv[1] as string, values);
  }
  return sections;
}

describe('the systemd unit', () => {
  const unit = parseUnit(readFileSync(UNIT, 'utf8'));
  const service = unit.get('Service') ?? new Map<string, string[]>();
  const one = (key: string) => {
    const v = service.get(key);
    expect(v, key).toHaveLength(1);
    return (v as string[])[0];
  };

  it('runs the daemon, restarts it on failure but not on a config error, and reads secrets from a file', () => {
    expect(one('ExecStart')).toMatch(/dist\/src\/cli\.js run --config \S+\.yaml$/);
    expect(one('Restart')).toBe('on-failure');
    expect(one('RestartPreventExitStatus')).toBe('2');
    expect(one('EnvironmentFile')).toMatch(/^\/etc\/psnb2b-sync\/\S+\.env$/);
    expect(one('KillSignal')).toBe('SIGTERM');
    expect(one('User')).not.toBe('root');
    expect(unit.get('Install')?.get('WantedBy')).toEqual(['multi-user.target']);
  });

  it('is hardened: nothing writable but the data folder, no privileges to gain', () => {
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('ReadWritePaths')).toBe('/var/lib/psnb2b-sync');
    for (const key of [
      'PrivateTmp',
      'PrivateDevices',
      'ProtectHome',
      'ProtectKernelTunables',
      'ProtectKernelModules',
      'ProtectControlGroups',
      'RestrictNamespaces',
      'RestrictSUIDSGID',
      'LockPersonality',
    ]) {
      expect(one(key), key).toBe('yes');
    }
    expect(one('UMask')).toBe('0077');
    expect(one('CapabilityBoundingSet')).toBe('');
    expect(one('RestrictAddressFamilies')?.split(' ').sort()).toEqual(['AF_INET', 'AF_INET6', 'AF_UNIX']);
  });

  it('passes systemd-analyze verify where systemd is installed', () => {
    const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
      // No systemd here (a container): the parse above is the check.
      expect(r.status).toBeNull();
      return;
    }
    const aboutUnit = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes('psnb2b-sync.service:'));
    expect(aboutUnit).toEqual([]);
    expect(r.status).toBe(0);
  });
});
