// Xen Orchestra's connector (npm xen-api 4.7.6) against xapisim, once per transport.
//
// Usage: node scenarios.mjs URL USER PASSWORD
// Prints one line per check ("ok", "FAIL", or "PENDING" for checks listed in
// ../pending.txt) and ends with "N passed, M failed, P pending". Exits 1 on a failure.

import http from 'node:http'
import { readFileSync } from 'node:fs'
import { createClient } from 'xen-api'

const [url, user, password] = process.argv.slice(2)
if (!password) {
  console.error('usage: node scenarios.mjs URL USER PASSWORD')
  process.exit(2)
}

// The one visible list of checks that wait for a feature: "node <check> | waits for".
const pending = new Map(
  readFileSync(new URL('../pending.txt', import.meta.url), 'utf8')
    .split('\n')
    .filter(l => l.startsWith('node '))
    .map(l => {
      const [name, reason] = l.slice(5).split('|').map(s => s.trim())
      return [name, reason]
    })
)

let passed = 0
let failed = 0
let pendingCount = 0

async function check(name, fn) {
  let error
  try {
    const ok = await withTimeout(fn(), 60e3)
    if (ok === false) error = new Error('check returned false')
  } catch (e) {
    error = e
  }
  const reason = pending.get(name)
  if (reason !== undefined) {
    pendingCount++
    console.log(`PENDING ${name} (waits for: ${reason}; now ${error ? 'fails: ' + describe(error) : 'passes'})`)
  } else if (error) {
    failed++
    console.log(`FAIL ${name}: ${describe(error)}`)
  } else {
    passed++
    console.log(`ok   ${name}`)
  }
}

function describe(e) {
  return e?.code ? `${e.code} ${JSON.stringify(e.params)}` : String(e?.stack ?? e).split('\n').slice(0, 3).join(' | ')
}

function withTimeout(promise, ms) {
  let timer
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

function assertEqual(got, want, what) {
  const g = JSON.stringify(got)
  const w = JSON.stringify(want)
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`)
}

// A pass-through proxy that records the paths the client posts to, to see which
// protocol the auto transport settles on.
async function recordingProxy(target) {
  const paths = []
  const upstream = new URL(target)
  const server = http.createServer((req, res) => {
    paths.push(req.url)
    const fwd = http.request(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
      up => {
        res.writeHead(up.statusCode, up.headers)
        up.pipe(res)
      }
    )
    fwd.on('error', e => res.destroy(e))
    req.pipe(fwd)
  })
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${server.address().port}`, paths, close: () => server.close() }
}

async function scenarios(transport) {
  const tag = `[${transport}]`
  const proxy = await recordingProxy(url)
  const xapi = createClient({
    url: proxy.url,
    auth: { user, password },
    transport,
    allowUnauthorized: true,
    debounce: 20,
  })
  try {
    await check(`${tag} connect`, async () => {
      await xapi.connect()
      assertEqual(xapi.status, 'connected', 'status')
    })

    await check(`${tag} objectsFetched`, async () => {
      await xapi.objectsFetched
      return xapi.objects.size > 0
    })

    await check(`${tag} pool and master resolved`, async () => {
      const pool = xapi.pool
      if (pool === undefined) throw new Error('no pool')
      const master = pool.$master
      if (master === undefined || master.$type !== 'host') throw new Error('pool.$master does not resolve to a host')
      assertEqual(master.$ref, pool.master, 'master ref')
      // xapi sends ints untagged in XML-RPC, so that client sees a string there.
      assertEqual(master.API_version_major, transport === 'xml-rpc' ? '2' : 2, 'API_version_major')
      assertEqual(master.API_version_minor, transport === 'xml-rpc' ? '21' : 21, 'API_version_minor')
    })

    await check(`${tag} cached objects match get_all`, async () => {
      const counts = {}
      for (const o of Object.values(xapi.objects.all)) counts[o.$type] = (counts[o.$type] ?? 0) + 1
      for (const type of ['pool', 'host', 'VM', 'host_metrics', 'VM_metrics']) {
        const refs = await xapi.call(`${type}.get_all`)
        assertEqual(counts[type] ?? 0, refs.length, `${type} count`)
      }
    })

    await check(`${tag} references resolve`, async () => {
      let resolved = 0
      for (const vm of Object.values(xapi.objects.all).filter(o => o.$type === 'VM')) {
        if (vm.is_control_domain) {
          const host = vm.$resident_on
          if (host === undefined || host.$type !== 'host') throw new Error(`dom0 ${vm.$ref} is not resident on a host`)
          if (host.$control_domain?.$ref !== vm.$ref) throw new Error(`host ${host.$ref} does not point back at its dom0`)
        }
        for (const vbd of vm.$VBDs ?? []) {
          if (vbd?.$VM?.$ref !== vm.$ref) throw new Error(`VBD of ${vm.$ref} does not point back`)
          resolved++
        }
        for (const vif of vm.$VIFs ?? []) {
          if (vif?.$network?.$type !== 'network') throw new Error(`VIF ${vif?.$ref} has no network`)
          resolved++
        }
      }
      if (resolved === 0) throw new Error('the inventory has no VM with VBDs or VIFs to resolve')
    })

    await check(`${tag} barrier`, async () => {
      await xapi.barrier()
      const keys = Object.keys(xapi.pool.other_config).filter(k => k.startsWith('xo:barrier:'))
      await xapi.barrier(xapi.pool.$ref)
      return keys.length <= 1
    })

    await check(`${tag} callAsync resolves through task events`, async () => {
      const ref = await xapi.callAsync('VM_group.create', { name_label: 'e2e', name_description: '', placement: 'normal' })
      if (!String(ref).startsWith('OpaqueRef:')) throw new Error(`result ${ref} is not a ref`)
      await xapi.callAsync('VM_group.destroy', ref)
    })

    await check(`${tag} callAsync of a VM lifecycle call`, async () => {
      const vm = Object.values(xapi.objects.all).find(
        o => o.$type === 'VM' && !o.is_a_template && !o.is_control_domain && o.power_state === 'Halted'
      )
      if (vm === undefined) throw new Error('no halted VM in the inventory')
      await xapi.callAsync('VM.start', vm.$ref, false, false)
      const started = await xapi.barrier(vm.$ref)
      assertEqual(started.power_state, 'Running', 'power_state after start')
      await xapi.callAsync('VM.hard_shutdown', vm.$ref)
      const stopped = await xapi.barrier(vm.$ref)
      assertEqual(stopped.power_state, 'Halted', 'power_state after hard_shutdown')
    })

    await check(`${tag} host plugins and the host clock`, async () => {
      const master = xapi.pool.$master
      const echo = await xapi.callAsync('host.call_plugin', master.$ref, 'echo.py', 'main', { xo: '1' })
      assertEqual(echo, "args were: {'xo': '1'}", 'echo.py through a task')
      // A <dateTime.iso8601> that the XML-RPC parser turns into a Date; a string in JSON.
      const time = await xapi.call('host.get_servertime', master.$ref)
      if (transport === 'xml-rpc') {
        if (!(time instanceof Date)) throw new Error(`servertime ${time} is not a Date`)
      } else if (!/^\d{8}T\d\d:\d\d:\d\dZ$/.test(time)) {
        throw new Error(`servertime ${time}`)
      }
    })

    await check(`${tag} incremental backup calls (CBT, NBD)`, async () => {
      const sr = Object.values(xapi.objects.all).find(o => o.$type === 'SR' && o.type === 'nfs')
      const vdi = await xapi.call('VDI.create', {
        SR: sr.$ref, name_label: 'xo-backup', name_description: '', virtual_size: 1 << 30, type: 'user',
        sharable: false, read_only: false, other_config: {}, xenstore_data: {}, sm_config: {}, tags: [],
      })
      await xapi.callAsync('VDI.enable_cbt', vdi)
      const base = await xapi.callAsync('VDI.snapshot', vdi, {})
      const next = await xapi.callAsync('VDI.snapshot', vdi, {})
      const bitmap = await xapi.callAsync('VDI.list_changed_blocks', base, next)
      // 1 GiB in 64 KiB blocks: 16384 bits, 2048 bytes, all clear.
      assertEqual(Buffer.from(bitmap, 'base64').length, 2048, 'bitmap bytes')
      await xapi.callAsync('VDI.data_destroy', base)
      assertEqual(await xapi.call('VDI.get_type', base), 'cbt_metadata', 'type after data_destroy')
      assertEqual(await xapi.call('VDI.get_nbd_info', next), [], 'no network serves NBD')
      for (const ref of [next, base, vdi]) await xapi.callAsync('VDI.destroy', ref)
    })

    await check(`${tag} failing callAsync rejects with the XenAPI error`, async () => {
      try {
        await xapi.callAsync('VM.destroy', 'OpaqueRef:bogus')
      } catch (e) {
        assertEqual(e.code, 'HANDLE_INVALID', 'code')
        assertEqual(e.params, ['VM', 'OpaqueRef:bogus'], 'params')
        return
      }
      throw new Error('callAsync did not reject')
    })

    await check(`${tag} call errors carry code and params`, async () => {
      try {
        await xapi.call('VM.get_record', 'OpaqueRef:bogus')
      } catch (e) {
        assertEqual([e.code, e.params], ['HANDLE_INVALID', ['VM', 'OpaqueRef:bogus']], 'error')
        return
      }
      throw new Error('call did not reject')
    })

    if (transport === 'auto') {
      await check(`${tag} picks JSON-RPC`, async () => {
        const used = new Set(proxy.paths.map(p => p.split('?')[0]))
        assertEqual([...used], ['/jsonrpc'], 'paths posted to')
      })
    }

    await check(`${tag} disconnect`, async () => {
      await xapi.disconnect()
      assertEqual(xapi.status, 'disconnected', 'status')
    })
  } finally {
    proxy.close()
  }
}

for (const transport of ['json-rpc', 'xml-rpc', 'auto']) {
  await scenarios(transport)
}
console.log(`${passed} passed, ${failed} failed, ${pendingCount} pending`)
process.exit(failed ? 1 : 0)
