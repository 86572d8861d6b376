// Drives the Salesforce sandbox with jsforce the way its users write code, and prints one JSON line
// per check: {"check": name, "ok": bool, "detail": ...}. Run by tests/sandbox/test_salesforce_jsforce.py,
// which starts the sandbox and passes where it is through the environment:
//   SF_URL, SF_TOKEN, SF_USERNAME, SF_PASSWORD (password + security token), SF_CLIENT_ID,
//   SF_CLIENT_SECRET, SF_ORG_ID, SF_USER_ID, SF_LIMITED_URL, SF_LIMITED_TOKEN (an org with a small
//   daily API limit), NODE_EXTRA_CA_CERTS (the sandboxes' test CAs).
'use strict';

const jsforce = require('jsforce');

const env = process.env;
const VERSION = '62.0';
const checks = [];

function check(name, fn) {
  checks.push({ name, fn });
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function equal(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

async function rejects(promise, errorCode, what) {
  try {
    await promise;
  } catch (err) {
    const code = err.errorCode || err.name;
    if (code !== errorCode) throw new Error(`${what}: expected ${errorCode}, got ${code}: ${err.message}`);
    return err;
  }
  throw new Error(`${what}: expected ${errorCode}, but the call succeeded`);
}

function direct(options = {}) {
  return new jsforce.Connection({ instanceUrl: env.SF_URL, accessToken: env.SF_TOKEN, version: VERSION, ...options });
}

function oauthConnection(options = {}) {
  return new jsforce.Connection({
    oauth2: { loginUrl: env.SF_URL, clientId: env.SF_CLIENT_ID, clientSecret: env.SF_CLIENT_SECRET },
    version: VERSION,
    ...options,
  });
}

async function soapLogin(options = {}) {
  const conn = new jsforce.Connection({ loginUrl: env.SF_URL, version: VERSION, ...options });
  await conn.login(env.SF_USERNAME, env.SF_PASSWORD);
  return conn;
}

async function revoke(token) {
  const response = await fetch(`${env.SF_URL}/services/oauth2/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
  });
  assert(response.status === 200, `revoke answered ${response.status}`);
}

// ------------------------------------------------------------------ login and identity
check('soap_login_user_info', async () => {
  const conn = new jsforce.Connection({ loginUrl: env.SF_URL, version: VERSION });
  const info = await conn.login(env.SF_USERNAME, env.SF_PASSWORD);
  equal([info.organizationId, info.id], [env.SF_ORG_ID, env.SF_USER_ID], 'userInfo');
  assert(conn.instanceUrl === env.SF_URL, `instanceUrl ${conn.instanceUrl}`);
  return { organizationId: info.organizationId };
});

check('soap_login_default_version', async () => {
  const conn = new jsforce.Connection({ loginUrl: env.SF_URL });
  const info = await conn.login(env.SF_USERNAME, env.SF_PASSWORD);
  equal(conn.version, '50.0', 'jsforce default version');
  const result = await conn.query('SELECT COUNT() FROM User');
  assert(result.totalSize >= 1, 'count at v50.0');
  return { organizationId: info.organizationId };
});

check('soap_login_wrong_password', async () => {
  const conn = new jsforce.Connection({ loginUrl: env.SF_URL, version: VERSION });
  try {
    await conn.login(env.SF_USERNAME, 'wrong');
  } catch (err) {
    assert(/INVALID_LOGIN/.test(err.message), err.message);
    return { message: err.message };
  }
  throw new Error('login with a wrong password succeeded');
});

check('oauth_password_login', async () => {
  const conn = oauthConnection();
  const info = await conn.login(env.SF_USERNAME, env.SF_PASSWORD);
  equal([info.organizationId, info.id], [env.SF_ORG_ID, env.SF_USER_ID], 'userInfo from the id URL');
  const result = await conn.query('SELECT Id FROM User WHERE Id = \'' + env.SF_USER_ID + '\'');
  equal(result.totalSize, 1, 'query after OAuth login');
});

check('oauth_wrong_client_secret', async () => {
  const conn = new jsforce.Connection({
    oauth2: { loginUrl: env.SF_URL, clientId: env.SF_CLIENT_ID, clientSecret: 'wrong' },
    version: VERSION,
  });
  await rejects(conn.login(env.SF_USERNAME, env.SF_PASSWORD), 'invalid_client', 'wrong secret');
});

check('identity_after_soap_login', async () => {
  const conn = await soapLogin();
  const identity = await conn.identity();
  equal([identity.user_id, identity.organization_id, identity.username],
    [env.SF_USER_ID, env.SF_ORG_ID, env.SF_USERNAME], 'identity');
  assert(identity.urls && identity.urls.rest, 'identity urls');
});

check('identity_from_token_only', async () => {
  const identity = await direct().identity();
  equal([identity.user_id, identity.organization_id], [env.SF_USER_ID, env.SF_ORG_ID], 'identity');
});

check('session_refresh_after_soap_login', async () => {
  const conn = await soapLogin();
  const before = conn.accessToken;
  let refreshed = 0;
  conn.on('refresh', () => { refreshed += 1; });
  await revoke(before);
  const result = await conn.query('SELECT COUNT() FROM Account');
  assert(result.totalSize > 0, 'query after refresh');
  assert(conn.accessToken !== before, 'a new session');
  equal(refreshed, 1, 'refresh events');
});

check('session_refresh_after_oauth_login', async () => {
  const conn = oauthConnection();
  await conn.login(env.SF_USERNAME, env.SF_PASSWORD);
  const before = conn.accessToken;
  await revoke(before);
  const account = await conn.sobject('Account').findOne({}, ['Id', 'Name']);
  assert(account && account.Id, 'record after refresh');
  assert(conn.accessToken !== before, 'a new session');
});

check('expired_session_without_refresh', async () => {
  const conn = direct({ accessToken: 'not-a-session' });
  const err = await rejects(conn.query('SELECT Id FROM User'), 'INVALID_SESSION_ID', 'bad token');
  return { message: err.message };
});

check('soap_logout', async () => {
  const conn = await soapLogin();
  const token = conn.accessToken;
  await conn.logout();
  assert(!conn.accessToken, 'session cleared');
  await rejects(direct({ accessToken: token }).query('SELECT Id FROM User'), 'INVALID_SESSION_ID', 'after logout');
});

check('oauth_logout_revokes', async () => {
  const conn = oauthConnection();
  await conn.login(env.SF_USERNAME, env.SF_PASSWORD);
  const token = conn.accessToken;
  await conn.logout();
  await rejects(direct({ accessToken: token }).query('SELECT Id FROM User'), 'INVALID_SESSION_ID', 'after logout');
});

check('versions_and_limits', async () => {
  const conn = direct();
  const versions = await conn.request('/services/data/');
  const numbers = versions.map((v) => v.version);
  assert(numbers.includes('62.0') && numbers.includes('50.0'), `versions ${numbers.join(',')}`);
  const limits = await conn.limits();
  assert(limits.DailyApiRequests.Max > 0, 'DailyApiRequests');
  assert(conn.limitInfo.apiUsage && conn.limitInfo.apiUsage.used > 0, 'Sforce-Limit-Info parsed');
  const resources = await conn.request('/');
  equal(resources.identity, `${env.SF_URL}/id/${env.SF_ORG_ID}/${env.SF_USER_ID}`, 'identity resource');
});

// ------------------------------------------------------------------ queries
check('query_auto_fetch_pages', async () => {
  const conn = direct();
  const result = await conn.query('SELECT Id, Subject FROM Task ORDER BY Subject, Id')
    .autoFetch(true).maxFetch(100000);
  assert(result.totalSize > 400, `totalSize ${result.totalSize}`);
  equal(result.records.length, result.totalSize, 'records fetched over every page');
  equal(new Set(result.records.map((r) => r.Id)).size, result.totalSize, 'no record twice');
  return { totalSize: result.totalSize };
});

check('query_more_by_hand', async () => {
  const conn = direct();
  const first = await conn.query('SELECT Id FROM Task', { autoFetch: false });
  assert(!first.done && first.nextRecordsUrl, 'a first page with nextRecordsUrl');
  const second = await conn.queryMore(first.nextRecordsUrl);
  equal(second.totalSize, first.totalSize, 'totalSize on later pages');
  assert(second.records.length > 0 && second.records[0].Id !== first.records[0].Id, 'next page');
});

check('query_stream_records', async () => {
  const conn = direct();
  const ids = [];
  await new Promise((resolve, reject) => {
    conn.query('SELECT Id FROM Task')
      .on('record', (record) => ids.push(record.Id))
      .on('end', resolve)
      .on('error', reject)
      .run({ autoFetch: true, maxFetch: 100000 });
  });
  assert(ids.length > 400, `streamed ${ids.length}`);
});

check('query_all_sees_deleted', async () => {
  const conn = direct();
  const created = await conn.sobject('Account').create({ Name: 'jsforce to delete' });
  await conn.sobject('Account').destroy(created.id);
  const live = await conn.query(`SELECT Id FROM Account WHERE Id = '${created.id}'`);
  const all = await conn.query(`SELECT Id, IsDeleted FROM Account WHERE Id = '${created.id}'`).scanAll(true);
  equal([live.totalSize, all.totalSize, all.records[0].IsDeleted], [0, 1, true], 'query vs queryAll');
});

check('find_with_builder', async () => {
  const conn = direct();
  const records = await conn.sobject('Opportunity')
    .find({ StageName: 'Closed Won', Amount: { $gt: 1000 } }, ['Id', 'Name', 'Amount', 'CloseDate', 'Account.Name'])
    .sort({ CloseDate: -1, Id: 1 })
    .limit(5)
    .execute();
  assert(records.length > 0 && records.length <= 5, `found ${records.length}`);
  for (let i = 1; i < records.length; i += 1) {
    assert(records[i - 1].CloseDate >= records[i].CloseDate, 'CloseDate DESC');
  }
  assert(records.every((r) => r.Amount > 1000), 'Amount > 1000');
  assert(records.some((r) => r.Account && r.Account.Name), 'parent fields nested');
});

check('find_like_in_not_and_or', async () => {
  const conn = direct();
  const query = conn.sobject('Opportunity').find({
    $or: [{ Name: { $like: 'A%' } }, { StageName: { $in: ['Closed Lost', 'Prospecting'] } }],
    Name: { $nlike: '%zzz%' },
    Amount: { $exists: true },
  }, ['Id', 'Name', 'StageName']);
  const soql = await query.toSOQL();
  const records = await query.execute();
  assert(records.length > 0, 'records');
  assert(records.every((r) => /^a/i.test(r.Name) || ['Closed Lost', 'Prospecting'].includes(r.StageName)), 'filter');
  return { soql };
});

check('find_date_literals', async () => {
  const conn = direct();
  const recent = await conn.sobject('Opportunity')
    .find({ CloseDate: { $gte: jsforce.SfDate.LAST_N_DAYS(30) } }, ['Id']).execute();
  const created = await conn.sobject('Opportunity').count({ CreatedDate: { $lte: jsforce.SfDate.TODAY } });
  const thisYear = await conn.sobject('Opportunity').count({ CloseDate: jsforce.SfDate.THIS_FISCAL_YEAR });
  assert(created > 0, 'CreatedDate <= TODAY');
  return { recent: recent.length, created, thisYear };
});

check('count_and_find_one', async () => {
  const conn = direct();
  const won = await conn.sobject('Opportunity').count({ IsWon: true });
  const direct_count = await conn.query('SELECT COUNT() FROM Opportunity WHERE IsWon = true');
  equal(won, direct_count.totalSize, 'count');
  const one = await conn.sobject('Opportunity').findOne({ IsWon: true }, ['Id', 'IsWon']);
  equal(one.IsWon, true, 'findOne');
});

check('relationship_fields', async () => {
  const conn = direct();
  const result = await conn.query('SELECT Id, Account.Name, Account.Owner.Email, Owner.Email FROM Opportunity '
    + 'WHERE AccountId != null LIMIT 3');
  const record = result.records[0];
  assert(record.Account.attributes.type === 'Account' && record.Account.Owner.Email, 'nested parents');
  assert(record.Owner.Email, 'Owner.Email');
});

check('child_subquery_with_include', async () => {
  const conn = direct();
  await conn.sobject('Account').create({ Name: 'jsforce no contacts' });
  const accounts = await conn.sobject('Account')
    .select('Id, Name')
    .include('Contacts').select('Id, LastName').orderby('LastName').end()
    .execute();
  const withContacts = accounts.filter((a) => a.Contacts);
  assert(withContacts.length > 0, 'accounts with contacts');
  const some = withContacts[0].Contacts;
  equal(some.records.length, some.totalSize, 'child records');
  assert(accounts.some((a) => a.Contacts === null), 'null when there are no children');
});

check('nested_child_subqueries_v58', async () => {
  const conn = direct();
  const soql = 'SELECT Name, (SELECT Name, (SELECT Role FROM OpportunityContactRoles) FROM Opportunities) FROM Account';
  const result = await conn.query(soql);
  const roles = result.records
    .flatMap((a) => (a.Opportunities ? a.Opportunities.records : []))
    .flatMap((o) => (o.OpportunityContactRoles ? o.OpportunityContactRoles.records : []));
  assert(roles.length > 0, 'third-level records');
  await rejects(direct({ version: '50.0' }).query(soql), 'MALFORMED_QUERY', 'nested at v50.0');
});

check('query_explain', async () => {
  const conn = direct();
  const plan = await conn.query('SELECT Id FROM Opportunity WHERE IsWon = true').explain();
  assert(plan.plans.length >= 1 && plan.plans[0].sobjectType === 'Opportunity', 'plans');
  assert(typeof plan.plans[0].relativeCost === 'number', 'relativeCost');
});

// ------------------------------------------------------------------ describe
check('describe_and_describe_global', async () => {
  const conn = direct();
  const global = await conn.describeGlobal();
  const names = global.sobjects.map((s) => s.name);
  assert(['Account', 'Opportunity', 'Task', 'Event', 'PermissionSet'].every((n) => names.includes(n)), 'objects');
  const meta = await conn.sobject('Opportunity').describe();
  const stage = meta.fields.find((f) => f.name === 'StageName');
  assert(stage.type === 'picklist' && stage.picklistValues.some((p) => p.value === 'Closed Won'), 'picklist');
  const key = (await conn.sobject('Task').describe()).fields.find((f) => f.name === 'AfterClose_Key__c');
  equal([key.externalId, key.unique, key.custom], [true, true, true], 'external id field');
  const cached = await conn.sobject('Opportunity').describe$();
  equal(cached.name, 'Opportunity', 'describe$ cache');
});

// ------------------------------------------------------------------ writes
check('create_retrieve_update_destroy_single', async () => {
  const conn = direct();
  const accounts = conn.sobject('Account');
  const created = await accounts.create({ Name: 'jsforce single', Website: 'example.com' });
  assert(created.success && created.id.length === 18, 'create');
  const fetched = await accounts.retrieve(created.id);
  equal([fetched.Name, fetched.Website], ['jsforce single', 'example.com'], 'retrieve');
  const updated = await accounts.update({ Id: created.id, Name: 'jsforce renamed' });
  equal([updated.success, updated.id], [true, created.id], 'update (204 -> jsforce result)');
  const again = await accounts.retrieve(created.id, { fields: ['Name'] });
  equal(again.Name, 'jsforce renamed', 'fields option');
  const destroyed = await accounts.destroy(created.id);
  equal(destroyed.success, true, 'destroy');
  await rejects(accounts.retrieve(created.id), 'ENTITY_IS_DELETED', 'retrieve deleted');
});

check('collections_create_retrieve_update_destroy', async () => {
  const conn = direct();
  const accounts = conn.sobject('Account');
  const created = await accounts.create([{ Name: 'jsforce many 1' }, { Name: 'jsforce many 2' }]);
  assert(created.every((r) => r.success), 'create many');
  const ids = created.map((r) => r.id);
  const fetched = await accounts.retrieve(ids);
  equal(fetched.map((r) => r.Name), ['jsforce many 1', 'jsforce many 2'], 'retrieve many (POST with describe fields)');
  const picked = await conn.request(`/composite/sobjects/Account?ids=${ids.join(',')}&fields=Id,Name`);
  equal(picked.map((r) => r.Id), ids, 'retrieve many (GET)');
  const updated = await accounts.update(ids.map((Id, n) => ({ Id, Name: `jsforce updated ${n}` })));
  assert(updated.every((r) => r.success), 'update many');
  const destroyed = await accounts.destroy(ids);
  assert(destroyed.every((r) => r.success), 'destroy many');
});

check('collections_all_or_none_rolls_back', async () => {
  const conn = direct();
  const results = await conn.sobject('Task').create(
    [{ Subject: 'jsforce fine' }, { Subject: 'jsforce bad', Status: 'Nope' }], { allOrNone: true });
  equal(results.map((r) => r.success), [false, false], 'all failed');
  equal(results[0].errors[0].statusCode, 'ALL_OR_NONE_OPERATION_ROLLED_BACK', 'rolled back');
  equal(results[1].errors[0].statusCode, 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', 'the bad one');
  const left = await conn.query("SELECT COUNT() FROM Task WHERE Subject = 'jsforce fine'");
  equal(left.totalSize, 0, 'nothing written');
  const partial = await conn.sobject('Task').create(
    [{ Subject: 'jsforce kept' }, { Subject: 'jsforce bad', Status: 'Nope' }], { allOrNone: false });
  equal(partial.map((r) => r.success), [true, false], 'partial success');
});

check('upsert_single_and_many_by_external_id', async () => {
  const conn = direct();
  const tasks = conn.sobject('Task');
  const first = await tasks.upsert({ AfterClose_Key__c: 'js-key-1', Subject: 'jsforce upsert' }, 'AfterClose_Key__c');
  equal([first.success, first.created], [true, true], 'upsert creates (201)');
  const second = await tasks.upsert({ AfterClose_Key__c: 'js-key-1', Subject: 'jsforce upsert 2' }, 'AfterClose_Key__c');
  equal(second.success, true, 'upsert updates (204)');
  const many = await tasks.upsert([
    { AfterClose_Key__c: 'js-key-1', Subject: 'jsforce upsert 3' },
    { AfterClose_Key__c: 'js-key-2', Subject: 'jsforce upsert new' },
  ], 'AfterClose_Key__c');
  equal(many.map((r) => r.created), [false, true], 'collection upsert created flags');
  const rolled = await tasks.upsert([
    { AfterClose_Key__c: 'js-key-3', Subject: 'fine' },
    { AfterClose_Key__c: 'js-key-4', Subject: 'bad', Status: 'Nope' },
  ], 'AfterClose_Key__c', { allOrNone: true });
  equal(rolled.map((r) => [r.success, r.created]), [[false, false], [false, false]], 'rolled back upsert');
});

check('updated_and_deleted', async () => {
  const conn = direct();
  const start = new Date(Date.now() - 60 * 60 * 1000);
  const created = await conn.sobject('Contact').create({ LastName: 'jsforce replicated' });
  await conn.sobject('Contact').destroy(created.id);
  const end = new Date(Date.now() + 60 * 60 * 1000);
  const updated = await conn.sobject('Account').updated(start, end);
  assert(Array.isArray(updated.ids) && updated.latestDateCovered, 'updated');
  const deleted = await conn.sobject('Contact').deleted(start, end);
  assert(deleted.deletedRecords.some((r) => r.id === created.id), 'deleted');
});

// ------------------------------------------------------------------ errors
check('error_unknown_field_in_query', async () => {
  const err = await rejects(direct().query('SELECT Nope__c FROM Account'), 'INVALID_FIELD', 'query');
  assert(/No such column 'Nope__c'/.test(err.message), err.message);
});

check('error_unknown_field_in_create', async () => {
  await rejects(direct().sobject('Account').create({ Name: 'x', Nope__c: 1 }), 'INVALID_FIELD', 'create');
});

check('error_malformed_query_and_unknown_object', async () => {
  await rejects(direct().query('SELECT FROM Account'), 'MALFORMED_QUERY', 'syntax');
  await rejects(direct().query('SELECT Id FROM Nope__c'), 'INVALID_TYPE', 'object');
  await rejects(direct().sobject('Nope__c').describe(), 'NOT_FOUND', 'describe');
});

check('error_duplicate_external_id', async () => {
  const tasks = direct().sobject('Task');
  await tasks.create({ Subject: 'dup 1', AfterClose_Key__c: 'js-dup' });
  const err = await rejects(tasks.create({ Subject: 'dup 2', AfterClose_Key__c: 'JS-DUP' }), 'DUPLICATE_VALUE', 'dup');
  return { message: err.message };
});

check('error_required_field_missing', async () => {
  await rejects(direct().sobject('Task').create({ Status: 'Not Started' }), 'REQUIRED_FIELD_MISSING', 'no Subject');
});

check('error_daily_limit_exceeded', async () => {
  const conn = new jsforce.Connection({ instanceUrl: env.SF_LIMITED_URL, accessToken: env.SF_LIMITED_TOKEN, version: VERSION });
  let calls = 0;
  for (; calls < 50; calls += 1) {
    try {
      await conn.query('SELECT COUNT() FROM User');
    } catch (err) {
      equal(err.errorCode, 'REQUEST_LIMIT_EXCEEDED', 'errorCode');
      return { allowed: calls };
    }
  }
  throw new Error('no REQUEST_LIMIT_EXCEEDED after 50 calls');
});

// ------------------------------------------------------------------ tooling and field-level security
check('tooling_custom_field_then_permission_set_grants_it', async () => {
  const conn = direct();
  const created = await conn.tooling.sobject('CustomField').create({
    FullName: 'Account.Js_Score__c',
    Metadata: { label: 'Js Score', type: 'Number', precision: 5, scale: 0 },
  });
  assert(created.success && created.id.startsWith('00N'), 'field created');
  const found = await conn.tooling.query(
    "SELECT Id, DeveloperName, TableEnumOrId FROM CustomField WHERE DeveloperName = 'Js_Score' AND TableEnumOrId = 'Account'");
  equal(found.records.map((r) => r.Id), [created.id], 'tooling query');
  const hidden = (await conn.sobject('Account').describe()).fields.some((f) => f.name === 'Js_Score__c');
  equal(hidden, false, 'invisible before a grant');
  await rejects(conn.query('SELECT Js_Score__c FROM Account'), 'INVALID_FIELD', 'query before a grant');
  const permissionSet = await conn.sobject('PermissionSet').create({ Name: 'Js_Grant', Label: 'Js Grant' });
  await conn.sobject('FieldPermissions').create({
    ParentId: permissionSet.id, SobjectType: 'Account', Field: 'Account.Js_Score__c',
    PermissionsRead: true, PermissionsEdit: true,
  });
  await conn.sobject('PermissionSetAssignment').create({ AssigneeId: env.SF_USER_ID, PermissionSetId: permissionSet.id });
  const fresh = direct();
  const field = (await fresh.sobject('Account').describe()).fields.find((f) => f.name === 'Js_Score__c');
  assert(field && field.updateable, 'visible and editable after the grant');
  const account = await fresh.sobject('Account').create({ Name: 'jsforce scored', Js_Score__c: 7 });
  const read = await fresh.sobject('Account').retrieve(account.id, { fields: ['Js_Score__c'] });
  equal(read.Js_Score__c, 7, 'value written and read');
  await rejects(conn.tooling.sobject('CustomField').create({
    FullName: 'Account.Js_Score__c', Metadata: { label: 'Again', type: 'Number', precision: 5, scale: 0 },
  }), 'DUPLICATE_DEVELOPER_NAME', 'second create');
});

async function main() {
  const only = env.JSFORCE_CHECKS ? new Set(env.JSFORCE_CHECKS.split(',')) : null;
  for (const { name, fn } of checks) {
    if (only && !only.has(name)) continue;
    const started = Date.now();
    let line;
    try {
      const detail = await fn();
      line = { check: name, ok: true, ms: Date.now() - started, detail: detail === undefined ? null : detail };
    } catch (err) {
      line = { check: name, ok: false, ms: Date.now() - started, detail: String((err && err.stack) || err) };
    }
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
}

if (process.argv.includes('--list')) {
  process.stdout.write(`${JSON.stringify(checks.map((c) => c.name))}\n`);
} else {
  main().catch((err) => {
    process.stderr.write(`${err.stack || err}\n`);
    process.exit(1);
  });
}
